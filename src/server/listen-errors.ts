import { execFileSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { basename } from "node:path";

/** Who listens on a TCP port, as `ss` can tell (a name and pid when we may see them). */
function holderOf(port: string): string | undefined {
  try {
    const out = execFileSync("ss", ["-Hltnp", `sport = :${port}`], { timeout: 2000 }).toString();
    const m = /users:\(\("([^"]+)",pid=(\d+)/.exec(out);
    if (!m) return undefined;
    // The program's file name: `ss` shows the thread's name, which can be "MainThread".
    let name = m[1]!;
    try {
      name = basename(readlinkSync(`/proc/${m[2]}/exe`));
    } catch {}
    return `${name} (pid ${m[2]})`;
  } catch {
    return undefined;
  }
}

/**
 * A listen failure in one plain sentence with what to do about it: the address in use
 * (and by whom, when that can be seen), or a port below 1024 without the privilege.
 */
export function describeListenError(code: string | undefined, message: string): string {
  const m = /(?:listen|bind) E[A-Z]+:? [^0-9[]*((?:\[[^\]]*\]|[^\s:]+):(\d+))/.exec(message);
  const address = m?.[1];
  const port = m?.[2];
  if (code === "EADDRINUSE" && address && port) {
    const who = holderOf(port);
    return `cannot listen on ${address}: the address is in use${who ? ` by ${who}` : " by another program"} (stop it, or choose another port with --listen or listen:)`;
  }
  if (code === "EACCES" && address && port) {
    const low = Number(port) < 1024;
    return `cannot listen on ${address}: permission denied${low ? ' (ports below 1024 need root, or the capability: sudo setcap cap_net_bind_service=+ep "$(command -v node)"; or listen on a port above 1023 behind a redirect)' : ""}`;
  }
  if (code === "EADDRNOTAVAIL" && address)
    return `cannot listen on ${address}: no interface of this machine has that address`;
  return message;
}
