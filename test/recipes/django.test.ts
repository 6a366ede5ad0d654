import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { needs, PYTHON } from "../helpers/tools.ts";
import { makeTree, type Running, runWharf, startWharf } from "../helpers/wharf.ts";

// The README's Django recipe, step by step, on Debian's Django and gunicorn: a new
// project, collectstatic, the settings the recipe names, then wharf in front over HTTPS
// (its internal CA), and the admin site used as a person would: styled, and a login POST
// that passes Django's CSRF checks over HTTP/2 (Chromium) and HTTP/1.1.

/** The settings the README tells a Django user to add. */
const SETTINGS = `
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
# wharf terminates TLS and says so, and passes the Host the browser used:
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_SECURE = True
`;

/** One HTTPS request over HTTP/1.1 (ALPN http/1.1), trusting `ca`. */
function h1(
  port: number,
  ca: Buffer,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        servername: "localhost",
        port,
        path,
        method: opts.method ?? "GET",
        ca,
        ALPNProtocols: ["http/1.1"],
        headers: { Host: `localhost:${port}`, ...opts.headers },
        agent: false,
      } as import("node:https").RequestOptions,
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

describe("the README's Django recipe", needs("gunicorn", "python3:django", CHROMIUM, "certutil"), () => {
  let tree: ReturnType<typeof makeTree>;
  let w: Running;
  let project: string;
  let ca: Buffer;
  const env = () => ({ WHARF_DATA_DIR: join(tree.dir, "data") });

  before(async () => {
    tree = makeTree({});
    project = join(tree.dir, "mysite");
    mkdirSync(project);
    const py = (...args: string[]) =>
      execFileSync(PYTHON, args, {
        cwd: project,
        env: { ...process.env, DJANGO_SUPERUSER_PASSWORD: "wharf-secret-42" },
        stdio: "pipe",
      });
    py("-m", "django", "startproject", "mysite", ".");
    appendFileSync(join(project, "mysite/settings.py"), SETTINGS);
    py("manage.py", "migrate", "--noinput");
    py("manage.py", "collectstatic", "--noinput");
    py("manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com");
    mkdirSync(join(project, "media"));
    writeFileSync(join(project, "media/upload.txt"), "uploaded\n");
    w = await startWharf(
      [
        "serve",
        "--static",
        "/static/=./staticfiles",
        "--static",
        "/media/=./media",
        "--app",
        "gunicorn -b {socket} mysite.wsgi",
        "--tls",
        "internal",
        "--listen",
        "127.0.0.1:{port}",
        "--workers",
        "2",
      ],
      { cwd: project, env: env() },
    );
    ca = readFileSync(join(tree.dir, "data/internal-ca/root.crt"));
  });
  after(async () => {
    await w?.stop();
    tree?.cleanup();
  });

  test("static files from collectstatic and media files answer from wharf, the rest from Django", async () => {
    const css = await h1(w.port, ca, "/static/admin/css/base.css");
    assert.equal(css.status, 200);
    assert.match(String(css.headers["content-type"]), /^text\/css/);
    assert.match(css.body, /DJANGO Admin styles/);
    assert.equal((await h1(w.port, ca, "/media/upload.txt")).body, "uploaded\n");
    const admin = await h1(w.port, ca, "/admin/");
    assert.equal(admin.status, 302, "Django's own redirect to its login page");
    assert.equal(admin.headers.location, "/admin/login/?next=/admin/");
  });

  test("the admin login over HTTP/1.1: CSRF token, Referer check over HTTPS, session", async () => {
    const form = await h1(w.port, ca, "/admin/login/?next=/admin/");
    assert.equal(form.status, 200);
    const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(form.body)?.[1];
    assert.ok(token);
    const cookie = String(form.headers["set-cookie"]).split(";")[0]!;
    assert.match(cookie, /^csrftoken=/);
    const body = new URLSearchParams({
      csrfmiddlewaretoken: token,
      username: "admin",
      password: "wharf-secret-42",
      next: "/admin/",
    }).toString();
    const login = await h1(w.port, ca, "/admin/login/?next=/admin/", {
      method: "POST",
      body,
      headers: {
        Cookie: cookie,
        Referer: `https://localhost:${w.port}/admin/login/?next=/admin/`,
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": String(Buffer.byteLength(body)),
      },
    });
    assert.equal(login.status, 302, `not a CSRF failure: ${login.body.slice(0, 300)}`);
    assert.equal(login.headers.location, "/admin/");
  });

  test("in Chromium over HTTP/2: the admin page is styled, and the login POST passes CSRF", async () => {
    const home = join(tree.dir, "home");
    mkdirSync(home, { recursive: true });
    const trusted = await runWharf(["trust"], {
      env: { ...env(), HOME: home, WHARF_TRUST_STORE: join(tree.dir, "no-store") },
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    const context = await launchChromium(join(tree.dir, "profile"), { ...process.env, HOME: home });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const failed: string[] = [];
      page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`https://localhost:${w.port}/admin/`, { waitUntil: "load" });
      assert.match(page.url(), /\/admin\/login\/\?next=\/admin\/$/);
      const proto = await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol");
      assert.equal(proto, "h2");
      // base.css gives the header Django's blue: the stylesheet reached the page.
      const headerColor = await page.evaluate(
        "getComputedStyle(document.querySelector('#header')).backgroundColor",
      );
      assert.notEqual(headerColor, "rgba(0, 0, 0, 0)", "the admin page is styled");
      await page.fill("#id_username", "admin");
      await page.fill("#id_password", "wharf-secret-42");
      await page.click("input[type=submit]");
      await page.waitForURL((u) => u.pathname === "/admin/", { timeout: 10_000 });
      assert.equal(await page.textContent("#content h1"), "Site administration");
      assert.deepEqual(failed, []);
    } finally {
      await context.close();
    }
  });
});
