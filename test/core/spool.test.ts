import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { pump } from "../../src/core/pump.ts";
import { Spool } from "../../src/core/spool.ts";

function chunks(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(size, i % 251));
}

async function readAll(s: Spool): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

test("a consumer that keeps up gets each chunk as it is written, nothing spilled", async () => {
  const s = new Spool({ memory: 1024, maxFile: 1 << 20 });
  const got: Buffer[] = [];
  s.on("data", (c: Buffer) => got.push(c));
  for (const c of chunks(5, 100)) {
    assert.equal(s.write(c), true);
    await new Promise((r) => setImmediate(r));
    assert.equal(got.at(-1), c, "delivered before the next write");
  }
  s.end();
  await new Promise((r) => s.once("end", r));
  assert.equal(s.spilled, 0);
});

test("what a slow consumer cannot take goes to memory, then to a temporary file; order and bytes kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "spool-"));
  try {
    const s = new Spool({ memory: 64 * 1024, maxFile: 8 << 20, dir });
    const input = chunks(200, 16 * 1024); // 3.2 MB, all taken before anyone reads
    const { Readable } = await import("node:stream");
    await new Promise<void>((resolve) =>
      pump(Readable.from(input), s, () => {
        s.end();
        resolve();
      }),
    );
    assert.ok(s.spilled > 2 << 20, `spilled ${s.spilled}`);
    assert.deepEqual(readdirSync(dir), [], "the file has no name: nothing to leave behind");
    const out = await readAll(s);
    assert.ok(out.equals(Buffer.concat(input)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("past memory and file, the writer waits for the consumer (backpressure)", async () => {
  const s = new Spool({ memory: 1000, maxFile: 0 });
  let refused = 0;
  for (const c of chunks(5, 400)) if (!s.write(c)) refused++;
  assert.ok(refused > 0);
  let drained = false;
  s.onDrain(() => {
    drained = true;
  });
  s.end();
  const out = await readAll(s);
  assert.equal(out.length, 2000);
  assert.ok(drained, "the writer is woken once the consumer took the memory");
});

test("pump through a spool: a fast source finishes before a slow reader starts", async () => {
  const { Readable } = await import("node:stream");
  const input = chunks(64, 32 * 1024);
  const s = new Spool({ memory: 128 * 1024, maxFile: 16 << 20 });
  const src = Readable.from(input);
  const ended = new Promise<void>((resolve) =>
    pump(src, s, (err) => {
      assert.equal(err, undefined);
      s.end();
      resolve();
    }),
  );
  await ended; // the source is done while nothing has been read yet
  assert.ok((await readAll(s)).equals(Buffer.concat(input)));
});

test("destroying a spool mid-way closes its file", async () => {
  const s = new Spool({ memory: 10, maxFile: 1 << 20 });
  for (const c of chunks(10, 1000)) s.write(c);
  s.destroy();
  await new Promise((r) => s.once("close", r));
  assert.equal(s.destroyed, true);
});
