import assert from "node:assert/strict";
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeCert } from "../helpers/certs.ts";
import { request } from "../helpers/http.ts";
import { type NodeUpstream, nodeUpstream } from "../helpers/node-upstream.ts";
import { eventually } from "../helpers/wait.ts";
import { freePort, makeTree, type Running, runWharf, startWharf } from "../helpers/wharf.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => unknown;
}

/** One admin API call over its unix socket (or TCP `host:port`). */
function admin(
  where: { socket?: string; port?: number },
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...(where.socket ? { socketPath: where.socket } : { host: "127.0.0.1", port: where.port }),
        method,
        path,
        headers,
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** The value of one Prometheus series (summed over the lines that match `labels`). */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let seen = false;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((p) => [p[1], p[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      total += Number(m[3]);
      seen = true;
    }
  }
  assert.ok(seen, `no ${name}${JSON.stringify(labels)} in the metrics`);
  return total;
}

describe("the admin API of a running server (two workers, default unix socket)", () => {
  let a: NodeUpstream;
  let b: NodeUpstream;
  let w: Running;
  let tree: ReturnType<typeof makeTree>;
  let socket: string;
  let configFile: string;
  let port: number;
  const env = () => ({ XDG_RUNTIME_DIR: tree.dir });
  const yaml = (answer: string, extra = "") => `server: { workers: 2 }
sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: { output: ${join(tree.dir, "access.log")} }
    routes:
      - match: { path: /fixed }
        respond: { body: "${answer}" }
      - match: { path: /health }
        health: {}
      - match: { path: /metrics }
        handle: [ { ip_filter: { allow: [127.0.0.1] } }, { metrics: {} } ]
      - match: { path: /cached/ }
        proxy: { to: ["http://127.0.0.1:${a.port}"], cache: { default_ttl: 1m } }
      - proxy: { to: ["http://127.0.0.1:${a.port}", "http://127.0.0.1:${b.port}"] }
${extra}`;

  before(async () => {
    tree = makeTree({});
    a = await nodeUpstream("a", 0, {
      "/cached/page": (_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain" });
        res.end(`page ${a.hits.get("/cached/page")}`);
      },
    });
    b = await nodeUpstream("b");
    port = await freePort();
    configFile = join(tree.dir, "wharf.yaml");
    writeFileSync(configFile, yaml("one"));
    w = await startWharf(["run", "--config", configFile], { port, env: env() });
    socket = String((await w.waitForLog("admin API listening")).listen).slice(5);
  });
  after(async () => {
    await w?.stop();
    await a?.close();
    await b?.close();
    tree?.cleanup();
  });

  test("the socket is under the runtime directory, mode 0600, and named for the config", () => {
    assert.ok(socket.startsWith(join(tree.dir, "wharf")), socket);
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  test("GET /health, /workers and wharf status", async () => {
    const h = await admin({ socket }, "GET", "/health");
    assert.equal(h.status, 200);
    assert.equal((h.json() as { status: string }).status, "ok");
    assert.equal(h.headers["content-type"], "application/json");
    const workers = (await admin({ socket }, "GET", "/workers")).json() as {
      pid: number;
      uptime_s: number;
      connections: number;
      restarts: number;
    }[];
    assert.equal(workers.length, 2);
    assert.equal(new Set(workers.map((x) => x.pid)).size, 2);
    for (const x of workers) assert.equal(x.restarts, 0);
    const cli = await runWharf(["status", "--config", configFile], { env: env() });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /wharf running: pid \d+, up \d+s, 2 worker\(s\)/);
    assert.match(cli.stdout, new RegExp(`http://127.0.0.1:${a.port}\\s+healthy`));
  });

  test("a health handler on a site answers 200 for load balancers", async () => {
    const r = await request(w.base, "/health");
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '{"status":"ok"}\n');
    assert.equal(r.headers["cache-control"], "no-store");
  });

  test("GET /metrics sums every worker: the counters move by exactly the requests made", async () => {
    const before = (await admin({ socket }, "GET", "/metrics")).text;
    const was = metric(before, "wharf_http_requests_total", { code: "200", method: "GET" });
    // New connections each: the kernel spreads them over both workers.
    for (let i = 0; i < 40; i++) assert.equal((await request(w.base, "/fixed")).status, 200);
    for (let i = 0; i < 3; i++) await request(w.base, "/fixed", { method: "DELETE" });
    const m = await admin({ socket }, "GET", "/metrics");
    assert.equal(m.status, 200);
    assert.match(String(m.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
    const text = m.text;
    assert.equal(metric(text, "wharf_http_requests_total", { code: "200", method: "GET" }) - was, 40);
    assert.ok(metric(text, "wharf_http_request_duration_seconds_count") >= 43);
    assert.equal(
      metric(text, "wharf_http_request_duration_seconds_bucket", { le: "+Inf" }),
      metric(text, "wharf_http_request_duration_seconds_count"),
    );
    assert.ok(metric(text, "wharf_http_response_size_bytes_sum") >= 120);
    assert.equal(metric(text, "wharf_workers"), 2);
    assert.ok(metric(text, "process_resident_memory_bytes") > 50e6);
    assert.ok(metric(text, "process_open_fds") > 10);
    assert.equal(metric(text, "wharf_upstream_healthy", { upstream: `http://127.0.0.1:${a.port}` }), 1);
    assert.match(text, /# TYPE wharf_http_request_duration_seconds histogram/);
    assert.match(text, /# TYPE wharf_connections_open gauge/);
    // The same text on a site's route with the metrics handler.
    const site = await request(w.base, "/metrics");
    assert.equal(site.status, 200);
    assert.ok(
      metric(site.body.toString(), "wharf_http_requests_total", { code: "200", method: "GET" }) >= 40,
    );
    assert.equal(metric(site.body.toString(), "wharf_workers"), 2);
  });

  test("upstream metrics: durations and in-flight per upstream", async () => {
    for (let i = 0; i < 4; i++) await request(w.base, "/echo");
    const text = (await admin({ socket }, "GET", "/metrics")).text;
    assert.ok(metric(text, "wharf_upstream_request_duration_seconds_count") >= 4);
    assert.equal(metric(text, "wharf_upstream_requests_in_flight"), 0);
  });

  test("GET /config is the canonical config; a bad POST /config is refused with path: message", async () => {
    const c = (await admin({ socket }, "GET", "/config")).json() as { sites: { listen: string[] }[] };
    assert.deepEqual(c.sites[0]!.listen, [`127.0.0.1:${port}`]);
    const bad = await admin(
      { socket },
      "POST",
      "/config",
      `sites:\n  - listen: ["127.0.0.1:${port}"]\n    routes:\n      - respond: { status: 999 }\n`,
      { "Content-Type": "application/yaml" },
    );
    assert.equal(bad.status, 400);
    const errors = (bad.json() as { errors: string[] }).errors;
    assert.match(errors.join("\n"), /^sites\[0\]\.routes\[0\]\.respond\.status: /m);
    assert.equal((await request(w.base, "/fixed")).body.toString(), "one", "the running config stays");
    const notJson = await admin({ socket }, "POST", "/config", "{ nope", {
      "Content-Type": "application/json",
    });
    assert.equal(notJson.status, 400);
    assert.match(notJson.text, /is not JSON/);
  });

  test("POST /config applies a config (JSON) as a reload does; POST /reload re-reads the file", async () => {
    const next = (await admin({ socket }, "GET", "/config")).json() as {
      sites: { routes: { handle: Record<string, unknown>[] }[] }[];
    };
    next.sites[0]!.routes[0]!.handle[0] = { respond: { body: "posted" } };
    const r = await admin({ socket }, "POST", "/config", JSON.stringify(next), {
      "Content-Type": "application/json",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal((await request(w.base, "/fixed")).body.toString(), "posted");

    writeFileSync(configFile, yaml("two"));
    const reloaded = await runWharf(["reload", "--config", configFile], { env: env() });
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.equal((await request(w.base, "/fixed")).body.toString(), "two");

    writeFileSync(configFile, `${yaml("three")}  - listen: nonsense\n`);
    const refused = await admin({ socket }, "POST", "/reload");
    assert.equal(refused.status, 400);
    assert.match(refused.text, /wharf\.yaml:\d+:\d+: sites\[1\]\.listen/);
    const cli = await runWharf(["reload", "--config", configFile], { env: env() });
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, /sites\[1\]\.listen/);
    assert.equal((await request(w.base, "/fixed")).body.toString(), "two", "the running config stays");
    const m = (await admin({ socket }, "GET", "/metrics")).text;
    assert.ok(metric(m, "wharf_config_reloads_total", { result: "success" }) >= 2);
    assert.ok(metric(m, "wharf_config_reloads_total", { result: "failure" }) >= 1);
    writeFileSync(configFile, yaml("two"));
  });

  test("drain: a drained upstream gets no new requests, its in-flight one finishes; undrain takes it back", async () => {
    const url = `http://127.0.0.1:${b.port}`;
    // A slow request in flight at b when it is drained (round robin: try until b has it).
    let slow: Promise<{ status: number; body: Buffer }> | undefined;
    for (let i = 0; i < 4 && slow === undefined; i++) {
      const p = request(w.base, "/slow?s=1.5");
      await eventually(() => (a.hits.get("/slow") ?? 0) + (b.hits.get("/slow") ?? 0) === i + 1);
      if ((b.hits.get("/slow") ?? 0) > 0) slow = p;
    }
    assert.ok(slow, "a slow request reached b");
    const cli = await runWharf(["upstreams", "drain", url, "--config", configFile], { env: env() });
    assert.equal(cli.code, 0, cli.stderr);
    const before = b.hits.get("/echo") ?? 0;
    for (let i = 0; i < 12; i++) {
      const r = await request(w.base, "/echo");
      assert.equal(JSON.parse(r.body.toString()).name, "a");
    }
    assert.equal(b.hits.get("/echo") ?? 0, before, "no new request reached the drained upstream");
    const listed = (await admin({ socket }, "GET", "/upstreams")).json() as {
      url: string;
      drained: boolean;
      inFlight: number;
    }[];
    const bRow = listed.find((u) => u.url === url)!;
    assert.equal(bRow.drained, true);
    assert.equal(bRow.inFlight, 1, "its in-flight request is still there");
    const done = await slow;
    assert.equal(done.status, 200);
    assert.equal(done.body.toString(), "slow\n");
    const shown = await runWharf(["upstreams", "--config", configFile], { env: env() });
    assert.match(shown.stdout, new RegExp(`${url}\\s+drained`));

    const undrain = await admin({ socket }, "POST", "/upstreams/undrain", JSON.stringify({ url }));
    assert.equal(undrain.status, 200);
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add(JSON.parse((await request(w.base, "/echo")).body.toString()).name);
    assert.deepEqual([...names].sort(), ["a", "b"]);
    const missing = await admin({ socket }, "POST", "/upstreams/drain", "{}");
    assert.equal(missing.status, 400);
    const unknown = await admin(
      { socket },
      "POST",
      "/upstreams/drain",
      JSON.stringify({ url: "http://10.9.9.9:1" }),
    );
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, new RegExp(`the upstreams are: .*${a.port}`));
    // Without the scheme, an address still names its upstream.
    const bare = await admin(
      { socket },
      "POST",
      "/upstreams/drain",
      JSON.stringify({ url: `127.0.0.1:${b.port}` }),
    );
    assert.deepEqual(bare.json(), { url, drained: true });
    await admin({ socket }, "POST", "/upstreams/undrain", JSON.stringify({ url }));
  });

  test("purge: wharf purge URL drops a cached response for every worker", async () => {
    const first = await request(w.base, "/cached/page");
    assert.equal(first.body.toString(), "page 1");
    for (let i = 0; i < 4; i++)
      assert.equal((await request(w.base, "/cached/page")).body.toString(), "page 1");
    const text = (await admin({ socket }, "GET", "/metrics")).text;
    assert.ok(metric(text, "wharf_cache_requests_total", { result: "hit" }) >= 4);
    const cli = await runWharf(["purge", `http://127.0.0.1:${port}/cached/page`, "--config", configFile], {
      env: env(),
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /purged 1 cached response/);
    assert.equal((await request(w.base, "/cached/page")).body.toString(), "page 2");
    const byPrefix = await admin(
      { socket },
      "POST",
      "/cache/purge",
      JSON.stringify({ prefix: `http://127.0.0.1:${port}/cached/` }),
    );
    assert.deepEqual(byPrefix.json(), { purged: 1 });
    assert.equal((await request(w.base, "/cached/page")).body.toString(), "page 3");
  });

  test("SIGUSR1 reopens the access log (logrotate): no line lost, new lines in the new file", async () => {
    const log = join(tree.dir, "access.log");
    await eventually(() => statSync(log).size > 0);
    const sent = { before: 0, after: 0 };
    for (let i = 0; i < 10; i++, sent.before++) await request(w.base, "/fixed?mark=before");
    await eventually(() => (readFileSync(log, "utf8").match(/mark=before/g) ?? []).length === 10);
    renameSync(log, `${log}.1`);
    // Lines written between the rename and the reopen still land in the renamed file.
    for (let i = 0; i < 5; i++, sent.before++) await request(w.base, "/fixed?mark=before");
    w.proc.kill("SIGUSR1");
    await w.waitForLog("reopening log files");
    await eventually(() => {
      try {
        return statSync(log).isFile();
      } catch {
        return false;
      }
    });
    for (let i = 0; i < 10; i++, sent.after++) await request(w.base, "/fixed?mark=after");
    await eventually(() => (readFileSync(log, "utf8").match(/mark=after/g) ?? []).length === sent.after);
    const old = readFileSync(`${log}.1`, "utf8");
    assert.equal((old.match(/mark=before/g) ?? []).length, sent.before);
    assert.equal((old.match(/mark=after/g) ?? []).length, 0);
    assert.equal((readFileSync(log, "utf8").match(/mark=before/g) ?? []).length, 0);
    assert.equal(w.proc.exitCode, null, "SIGUSR1 did not stop wharf (or start an inspector)");
  });

  test("unknown endpoints are 404 with JSON; the dashboard is only on a TCP listener", async () => {
    const r = await admin({ socket }, "GET", "/nope");
    assert.equal(r.status, 404);
    assert.match(r.text, /no such endpoint/);
    assert.equal((await admin({ socket }, "GET", "/")).status, 404);
  });
});

describe("a TCP admin listener", () => {
  test("loopback without a token: the dashboard, and foreign Host or Origin refused", async () => {
    const tree = makeTree({ "pub/index.html": "hi\n" });
    const adminPort = await freePort();
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1, admin: { listen: "127.0.0.1:${adminPort}" } }
sites:
  - listen: ["127.0.0.1:{port}"]
    routes: [ { static: { root: ./pub } } ]
`.replace("{port}", String(await freePort())),
    );
    const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")]);
    try {
      await w.waitForLog("admin API listening");
      const page = await admin({ port: adminPort }, "GET", "/");
      assert.equal(page.status, 200);
      assert.match(String(page.headers["content-type"]), /^text\/html/);
      assert.doesNotMatch(page.text, /<script[^>]+src=|<link[^>]+href="http/, "self-contained");
      const stats = (await admin({ port: adminPort }, "GET", "/stats")).json() as { workers: unknown[] };
      assert.equal(stats.workers.length, 1);
      const rebound = await admin({ port: adminPort }, "GET", "/config", undefined, { Host: "evil.example" });
      assert.equal(rebound.status, 403);
      const crossSite = await admin({ port: adminPort }, "POST", "/reload", "", {
        Origin: "http://evil.example",
        "Content-Type": "text/plain",
      });
      assert.equal(crossSite.status, 403);
    } finally {
      await w.stop();
      tree.cleanup();
    }
  });

  test("with a token: Bearer required; the dashboard keeps it in a cookie; certificates listed", async () => {
    const tree = makeTree({ "pub/index.html": "hi\n" });
    makeCert(tree.dir, "site", ["localhost", "127.0.0.1"]);
    const adminPort = await freePort();
    const token = "s3cret-token-of-some-length";
    writeFileSync(
      join(tree.dir, "wharf.yaml"),
      `server: { workers: 1, admin: { listen: "127.0.0.1:${adminPort}", token: "\${ADMIN_TOKEN}" } }
sites:
  - listen: ["127.0.0.1:${await freePort()}"]
    tls: { cert: ./site.crt, key: ./site.key }
    routes: [ { static: { root: ./pub } } ]
`,
    );
    const w = await startWharf(["run", "--config", join(tree.dir, "wharf.yaml")], {
      env: { ADMIN_TOKEN: token },
    });
    try {
      await w.waitForLog("admin API listening");
      const denied = await admin({ port: adminPort }, "GET", "/health");
      assert.equal(denied.status, 401);
      assert.match(String(denied.headers["www-authenticate"]), /^Bearer/);
      assert.equal(
        (await admin({ port: adminPort }, "GET", "/health", undefined, { Authorization: "Bearer wrong" }))
          .status,
        401,
      );
      const auth = { Authorization: `Bearer ${token}` };
      const certs = (await admin({ port: adminPort }, "GET", "/certificates", undefined, auth)).json() as {
        names: string[];
        not_after: string;
        issuer: string;
        source: string;
      }[];
      assert.equal(certs.length, 1);
      assert.deepEqual(certs[0]!.names, ["localhost", "127.0.0.1"]);
      assert.equal(certs[0]!.source, "files");
      assert.ok(Date.parse(certs[0]!.not_after) > Date.now());
      const m = (await admin({ port: adminPort }, "GET", "/metrics", undefined, auth)).text;
      assert.equal(
        metric(m, "wharf_tls_certificate_not_after_seconds", { name: "localhost" }),
        Math.floor(Date.parse(certs[0]!.not_after) / 1000),
      );
      const open = await admin({ port: adminPort }, "GET", `/?token=${token}`);
      assert.equal(open.status, 303);
      const cookie = String(open.headers["set-cookie"]).split(";")[0]!;
      assert.match(String(open.headers["set-cookie"]), /HttpOnly; SameSite=Strict/);
      assert.equal(
        (await admin({ port: adminPort }, "GET", "/stats", undefined, { Cookie: cookie })).status,
        200,
      );
      const cli = await runWharf(["status", "--admin", `127.0.0.1:${adminPort}`], {
        env: { WHARF_ADMIN_TOKEN: token },
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /certificate localhost, 127\.0\.0\.1: expires/);
    } finally {
      await w.stop();
      tree.cleanup();
    }
  });

  test("an admin address off loopback without a token is refused by validate", async () => {
    const tree = makeTree({
      "wharf.yaml": `server: { admin: { listen: "0.0.0.0:2019" } }
sites: [ { listen: ["127.0.0.1:8080"], routes: [ { respond: { body: x } } ] } ]
`,
    });
    const r = await runWharf(["validate", "--config", join(tree.dir, "wharf.yaml")]);
    tree.cleanup();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wharf\.yaml:1:\d+: server\.admin: an admin address off loopback needs a token/);
  });

  test("admin: off means no socket; wharf status says why", async () => {
    const tree = makeTree({
      "wharf.yaml": `server: { admin: off }
sites: [ { listen: ["127.0.0.1:8080"], routes: [ { respond: { body: x } } ] } ]
`,
    });
    const r = await runWharf(["status", "--config", join(tree.dir, "wharf.yaml")]);
    tree.cleanup();
    assert.equal(r.code, 2);
    assert.match(r.stderr, /turns the admin API off/);
  });

  test("wharf status with nothing running says so", async () => {
    const tree = makeTree({
      "wharf.yaml": `sites: [ { listen: ["127.0.0.1:8080"], routes: [ { respond: { body: x } } ] } ]\n`,
    });
    const r = await runWharf(["status", "--config", join(tree.dir, "wharf.yaml")], {
      env: { XDG_RUNTIME_DIR: tree.dir },
    });
    tree.cleanup();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no wharf answers at unix:.*\(is it running, with this config\?\)/);
  });
});
