import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { eventually } from "./wait.ts";

/** HAProxy in the foreground with `config` (written into `dir`), once it accepts on `port`. */
export async function startHaproxy(dir: string, config: string, port: number): Promise<ChildProcess> {
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  const proc = spawn("haproxy", ["-db", "-f", file], { stdio: "ignore" });
  await eventually(
    () =>
      new Promise<boolean>((r) => {
        const s = connect(port, "127.0.0.1", () => {
          s.destroy();
          r(true);
        });
        s.on("error", () => r(false));
      }),
    5000,
    "HAProxy listening",
  );
  return proc;
}
