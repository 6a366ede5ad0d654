let second = -1;
let line = "";

/** `Date: …\r\n` for now, built once a second (RFC 9110 §6.6.1 wants one per response). */
export function dateLine(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== second) {
    second = s;
    line = `Date: ${new Date(s * 1000).toUTCString()}\r\n`;
  }
  return line;
}
