/**
 * Polls `check` until it returns something other than undefined (or false), or fails after
 * `timeoutMs`: for what another process writes a moment later (log lines, files), instead
 * of a fixed sleep that is too short on a loaded machine.
 */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  what = "the condition",
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} did not come true within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
