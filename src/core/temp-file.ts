import { randomBytes } from "node:crypto";
import { type FileHandle, open, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A new temporary file, open for reading and writing, whose name is removed at once: the
 * bytes live as long as the handle, and nothing is left behind however the process ends
 * (a crash or SIGKILL included). Closing the handle frees the space.
 */
export async function anonymousTempFile(dir: string = tmpdir()): Promise<FileHandle> {
  const path = join(dir, `wharf-${process.pid}-${randomBytes(8).toString("hex")}.tmp`);
  const handle = await open(path, "wx+", 0o600);
  try {
    await unlink(path);
  } catch (err) {
    await handle.close();
    throw err;
  }
  return handle;
}
