import { execFileSync } from "node:child_process";

/**
 * Whether an external client is installed. In CI (CI=true) a missing tool is an error,
 * since .ci/run installs them all; on a developer machine the test is skipped instead.
 */
export function haveTool(name: string): boolean | string {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${name} is not installed, and CI must run every client test`);
    return false;
  }
}

/** Options for node:test's `skip`: skipped with a reason when the tool is missing. */
export function needs(...tools: string[]): { skip: string | false } {
  const missing = tools.filter((t) => !haveTool(t));
  return { skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false };
}
