import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The nickname the root goes under in NSS databases. */
const NICKNAME = "wharf Local Root CA";

/** The NSS databases of the user's browsers: Chromium/Chrome's, and each Firefox profile's. */
function nssDatabases(home: string): { dir: string; who: string; create: boolean }[] {
  const out = [{ dir: join(home, ".pki/nssdb"), who: "Chromium, Chrome", create: true }];
  for (const base of [join(home, ".mozilla/firefox"), join(home, "snap/firefox/common/.mozilla/firefox")]) {
    let entries: string[] = [];
    try {
      entries = readdirSync(base);
    } catch {}
    for (const name of entries)
      if (existsSync(join(base, name, "cert9.db")))
        out.push({ dir: join(base, name), who: "Firefox", create: false });
  }
  return out;
}

async function haveCertutil(): Promise<boolean> {
  try {
    await run("sh", ["-c", "command -v certutil"]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the internal root where clients look: the system store (as root, with
 * update-ca-certificates: curl, wget, Python, Node with --use-system-ca) and the NSS
 * databases browsers read (with certutil from libnss3-tools, as Caddy's `trust` does).
 * Returns lines saying which stores changed, after the root's path.
 */
export async function trust(rootPath: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const lines = [rootPath];
  const systemStore = "/usr/local/share/ca-certificates";
  // WHARF_TRUST_STORE puts the root elsewhere (a container image's store, or a test's).
  const store = env.WHARF_TRUST_STORE ?? systemStore;
  if (process.getuid?.() !== 0 || !existsSync(store)) {
    lines.push("system store: not changed (run as root on a system with update-ca-certificates)");
  } else {
    copyFileSync(rootPath, `${store}/wharf-local-root.crt`);
    if (store === systemStore) await run("update-ca-certificates");
    lines.push(`system store: installed as ${store}/wharf-local-root.crt`);
  }
  const home = env.HOME;
  if (!home) return lines.join("\n");
  if (!(await haveCertutil())) {
    lines.push(
      "browsers: not changed (certutil not found: install libnss3-tools, then run wharf trust again)",
    );
    return lines.join("\n");
  }
  for (const db of nssDatabases(home)) {
    try {
      if (!existsSync(db.dir)) {
        if (!db.create) continue;
        mkdirSync(db.dir, { recursive: true, mode: 0o700 });
        await run("certutil", ["-d", `sql:${db.dir}`, "-N", "--empty-password"]);
      }
      await run("certutil", ["-d", `sql:${db.dir}`, "-A", "-t", "C,,", "-n", NICKNAME, "-i", rootPath]);
      lines.push(`${db.who}: installed into the NSS database ${db.dir}`);
    } catch (err) {
      lines.push(`${db.who}: could not install into ${db.dir}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  return lines.join("\n");
}
