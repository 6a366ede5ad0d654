import assert from "node:assert/strict";
import { createHook } from "node:async_hooks";
import { test } from "node:test";
import { serveConfig } from "../../src/config/from-flags.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { ServerHost } from "../../src/server/runtime.ts";
import { localShared } from "../../src/server/shared-host.ts";
import { WorkerTls } from "../../src/tls/worker-tls.ts";
import { request } from "../helpers/http.ts";
import { makeTree } from "../helpers/wharf.ts";

test("a stale cached file is revalidated with one trip to the disk, however many requests wait for it", async () => {
  const tree = makeTree({ "www/page.html": "<p>hello</p>\n".repeat(50) });
  const host = new ServerHost(silentLogger, new WorkerTls(silentLogger), localShared());
  await host.apply(
    await serveConfig(
      {
        dir: `${tree.dir}/www`,
        listen: "127.0.0.1:0",
        workers: 1,
        quiet: true,
        browse: false,
        spa: false,
        app: undefined,
      },
      tree.dir,
    ),
  );
  try {
    const base = host.boundAddresses()[0]!;
    assert.equal((await request(base, "/page.html")).status, 200);
    // Past the once-a-second revalidation: the next requests find the entry stale.
    await new Promise((r) => setTimeout(r, 1100));
    let fsRequests = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === "FSREQPROMISE" || type === "FSREQCALLBACK") fsRequests++;
      },
    }).enable();
    const burst = await Promise.all(Array.from({ length: 100 }, () => request(base, "/page.html")));
    hook.disable();
    for (const r of burst) assert.equal(r.status, 200);
    // One revalidation is a stat of the file and of its three possible sidecars.
    assert.ok(fsRequests <= 8, `${fsRequests} file-system requests for one revalidation`);
  } finally {
    await host.shutdown(1000);
    tree.cleanup();
  }
});
