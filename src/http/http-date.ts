let line = "";
let timer: NodeJS.Timeout | undefined;

function refresh(): void {
  const now = Date.now();
  line = `Date: ${new Date(now).toUTCString()}\r\n`;
  // Again just after the next second starts.
  timer = setTimeout(refresh, 1000 - (now % 1000) + 1);
  timer.unref();
}

/**
 * `Date: …\r\n` for now (RFC 9110 §6.6.1 wants one per response): rebuilt by a timer at
 * each second, so a response reads a variable instead of the clock.
 */
export function dateLine(): string {
  if (timer === undefined) refresh();
  return line;
}
