import { execFileSync } from "node:child_process";

export interface Proc {
  pid: number;
  args: string;
}

/**
 * Every process below `root` (children, grandchildren…), with its command line: a test
 * finds the processes *it* started by their tree, never by a name another user's
 * processes could share.
 */
export function descendants(root: number): Proc[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid=,args="])
    .toString()
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3]! }));
  const out: Proc[] = [];
  const parents = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const r of rows) {
      if (parents.has(r.ppid) && !parents.has(r.pid)) {
        parents.add(r.pid);
        out.push({ pid: r.pid, args: r.args });
        grew = true;
      }
    }
  }
  return out;
}

/** Whether a process is still there (not reaped, not a zombie). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = execFileSync("ps", ["-o", "stat=", "-p", String(pid)])
      .toString()
      .trim();
    return stat !== "" && !stat.startsWith("Z");
  } catch {
    return false;
  }
}
