import { execFile } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Installs the internal root into the system store when run as root on a system with
 * update-ca-certificates (Debian, Ubuntu, Alpine); otherwise says where the root is.
 */
export async function trust(rootPath: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const systemStore = "/usr/local/share/ca-certificates";
  // WHARF_TRUST_STORE puts the root elsewhere (a container image's store, or a test's).
  const store = env.WHARF_TRUST_STORE ?? systemStore;
  if (process.getuid?.() !== 0 || !existsSync(store)) {
    return `${rootPath}\n(not installed: run as root on a system with update-ca-certificates, or import it by hand)`;
  }
  copyFileSync(rootPath, `${store}/wharf-local-root.crt`);
  if (store === systemStore) await run("update-ca-certificates");
  return `${rootPath}\ninstalled into the system trust store as ${store}/wharf-local-root.crt`;
}
