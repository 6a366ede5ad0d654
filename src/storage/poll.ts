/**
 * Runs `look` every `ms` (and at once with `now`), one run at a time, a failed run ignored:
 * how an instance watches a shared storage that may be away (the next run tries again).
 * The timer does not keep the process alive.
 */
export function pollStorage(ms: number, look: () => Promise<void>, now = false): NodeJS.Timeout {
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      await look();
    } catch {
      // The storage is away or late: what this instance holds stays until a run gets through.
    } finally {
      busy = false;
    }
  };
  if (now) void run();
  const timer = setInterval(run, ms);
  timer.unref();
  return timer;
}
