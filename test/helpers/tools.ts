import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/**
 * The Python the Debian app servers run on (gunicorn, uwsgi's plugin, uvicorn): a python3
 * earlier on PATH (pyenv, a virtualenv) may not have Debian's Flask or Django.
 */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/**
 * Whether an external client or server is installed; `python3:NAME` asks for a Python
 * module (gunicorn without Flask cannot run the test app). In CI (CI=true) a missing one
 * is an error, since .ci/run installs them all; on a developer machine the test is
 * skipped instead, with the reason.
 */
export function haveTool(name: string): boolean {
  const module = name.startsWith("python3:") ? name.slice("python3:".length) : undefined;
  try {
    if (module !== undefined) execFileSync(PYTHON, ["-c", `import ${module}`], { stdio: "ignore" });
    else execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    const what = module !== undefined ? `the Python module ${module}` : name;
    if (process.env.CI) throw new Error(`${what} is not installed, and CI must run every test`);
    return false;
  }
}

/** Options for node:test's `skip`: skipped with a reason when something is missing. */
export function needs(...tools: string[]): { skip: string | false } {
  const missing = tools.filter((t) => !haveTool(t));
  return { skip: missing.length > 0 ? `not installed: ${missing.join(", ")}` : false };
}
