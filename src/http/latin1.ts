/**
 * Buffer's latin1 fast paths (long-standing methods that @types/node does not declare):
 * the same bytes as `toString("latin1")` / `write(…, "latin1")` without their argument
 * handling, which shows on a per-request path.
 */
interface Latin1Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number): number;
}

/** `buf[start, end)` as a latin1 string. */
export function latin1(buf: Buffer, start: number, end: number): string {
  return (buf as unknown as Latin1Buffer).latin1Slice(start, end);
}
