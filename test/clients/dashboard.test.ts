import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { request } from "../helpers/http.ts";
import { nodeUpstream } from "../helpers/node-upstream.ts";
import { needs } from "../helpers/tools.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, ROOT, startWharf } from "../helpers/wharf.ts";

// UPDATE_SCREENSHOT=1 writes the README's docs/dashboard.png from this run.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1" ? join(ROOT, "docs/dashboard.png") : undefined;

test(
  "the dashboard renders in headless Chromium, its numbers move under load, no console errors",
  needs(CHROMIUM),
  async () => {
    const app = await nodeUpstream("app");
    const tree = makeTree({ "pub/index.html": "<h1>hi</h1>\n" });
    const port = await freePort();
    const adminPort = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 2, admin: { listen: "127.0.0.1:${adminPort}" } }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - match: { path: /static/ }
        static: { root: ./pub, strip_prefix: /static }
      - proxy: { to: ["http://127.0.0.1:${app.port}"] }
`,
    );
    const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], { port });
    const profile = mkdtempSync(join(tmpdir(), "wharf-chromium-"));
    const context = await launchChromium(profile);
    let load = true;
    const traffic = (async () => {
      let i = 0;
      while (load) {
        const path = ["/static/index.html", "/echo", "/missing", "/status/500"][i++ % 4]!;
        await request(w.base, path).catch(() => {});
      }
    })();
    try {
      await w.waitForLog("admin API listening");
      const page = context.pages()[0] ?? (await context.newPage());
      const consoleErrors: string[] = [];
      const failed: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.goto(`http://127.0.0.1:${adminPort}/`, { waitUntil: "load" });
      const read = (id: string) => page.textContent(`#${id}`).then((t) => (t ?? "").trim());
      await eventually(async () => Number(await read("rps")) > 0, 10_000, "requests per second above 0");
      const first = await page.evaluate("history.length");
      await eventually(async () => Number(await page.evaluate("history.length")) > Number(first), 5000);
      assert.match(await read("p50"), /^\d+(\.\d+)? (µs|ms|s)$/);
      assert.match(await read("p99"), /^\d+(\.\d+)? (µs|ms|s)$/);
      const workers = await page.evaluate("document.querySelectorAll('#workers tr').length");
      assert.equal(workers, 3, "a header and two workers");
      const upstream = (await page.textContent("#upstreams")) ?? "";
      assert.match(upstream, new RegExp(`http://127.0.0.1:${app.port}`));
      assert.match(upstream, /healthy/);
      // The chart drew the 5xx answers too (the red series).
      const drewRed = await page.evaluate(`(() => {
        const c = document.getElementById("chart"), d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] === 220 && d[i + 1] === 38 && d[i + 2] === 38) return true;
        return false;
      })()`);
      assert.equal(drewRed, true, "5xx shown in the status chart");
      if (SCREENSHOT) {
        await new Promise((r) => setTimeout(r, 25_000)); // a chart worth a look
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }
      assert.deepEqual(consoleErrors, []);
      assert.deepEqual(failed, []);
      assert.equal(await read("err"), "");
    } finally {
      load = false;
      await traffic;
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await w.stop();
      await app.close();
      tree.cleanup();
    }
  },
);
