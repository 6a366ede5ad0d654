import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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

/** Certificates and keys on disk, one folder per certificate, keys readable by the owner only. */
export class CertStorage {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(join(dir, "certificates"), { recursive: true, mode: 0o700 });
  }

  /** The folder of a certificate for `names` (under a CA's directory URL). */
  certDir(ca: string, names: string[]): string {
    const caDir = ca.replace(/^https?:\/\//, "").replace(/[^A-Za-z0-9.-]+/g, "_");
    const dir = join(this.dir, "certificates", caDir, names[0]!.replace(/[^A-Za-z0-9.-]/g, "_"));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  readAccountKey(ca: string): Buffer | undefined {
    const p = join(this.certDir(ca, ["_account"]), "account.key");
    return existsSync(p) ? readFileSync(p) : undefined;
  }

  writeAccountKey(ca: string, key: Buffer): void {
    writeAtomic(join(this.certDir(ca, ["_account"]), "account.key"), key);
  }

  /**
   * Takes the lock for ordering a certificate, so two processes never order the same names
   * at once; a lock left by a dead process is taken over. Returns the release function, or
   * undefined when another live process holds it.
   */
  lock(dir: string): (() => void) | undefined {
    const path = join(dir, "order.lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, "wx", 0o600);
        writeFileSync(fd, String(process.pid));
        closeSync(fd);
        return () => rmSync(path, { force: true });
      } catch {
        const pid = Number(readFileSync(path, "utf8").trim() || "0");
        if (pid > 0 && pid !== process.pid && isAlive(pid)) return undefined;
        rmSync(path, { force: true });
      }
    }
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
