import { renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** wharf's data directory: `$WHARF_DATA_DIR`, else `$XDG_DATA_HOME/wharf`, else `~/.local/share/wharf`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WHARF_DATA_DIR) return env.WHARF_DATA_DIR;
  const base = env.XDG_DATA_HOME || join(homedir(), ".local", "share");
  return join(base, "wharf");
}

/** Writes a file atomically (temporary file, then rename), with the given mode. */
export function writeAtomic(path: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}
