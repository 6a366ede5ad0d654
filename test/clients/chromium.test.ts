import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { needs } from "../helpers/tools.ts";
import { startExampleSite } from "./example-site.ts";

test(
  "headless Chromium loads the example site with no failed request or console error, and revalidates with 304",
  needs(CHROMIUM),
  async () => {
    const w = await startExampleSite();
    const profile = mkdtempSync(join(tmpdir(), "wharf-chromium-"));
    const context = await launchChromium(profile);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const failed: string[] = [];
      const consoleErrors: string[] = [];
      const statuses: string[] = [];
      page.on("requestfailed", (r) => failed.push(`${r.url()} ${r.failure()?.errorText}`));
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(m.text());
      });
      page.on("response", (r) => {
        statuses.push(`${r.status()} ${r.url()}`);
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${w.base}/`, { waitUntil: "load" });
      assert.equal(await page.textContent("#status"), "JavaScript ran: wharf served it with the right type.");
      // Evaluated in the page (strings: this project type-checks without the DOM library).
      const css = await page.evaluate("getComputedStyle(document.body).maxWidth");
      assert.notEqual(css, "none", "the stylesheet applied");
      const imgs = await page.evaluate("[...document.images].map((i) => i.complete && i.naturalWidth > 0)");
      assert.deepEqual(imgs, [true, true], "both images decoded");
      assert.deepEqual(failed, []);
      assert.deepEqual(consoleErrors, []);

      const mark = w.stdout().length;
      await page.reload({ waitUntil: "load" });
      assert.deepEqual(failed, []);
      // The HTML is served with Cache-Control: no-cache, so the browser must revalidate it.
      const log = await w
        .waitForStdout(/"GET \/ HTTP\/1\.1" 304 0 /, mark)
        .catch((err: Error) => assert.fail(`${err.message}\nresponses: ${statuses.join("\n")}`));
      assert.match(log, /"GET \/ HTTP\/1\.1" 304 0 /);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
      await w.stop();
    }
  },
);
