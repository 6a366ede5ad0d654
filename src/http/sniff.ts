import type { Socket } from "node:net";

/**
 * Reads a connection's first bytes without consuming them: collects what arrives until
 * `decided(bytes)` says enough was seen, then puts it all back (paused, unshifted) and
 * calls `then` with it, so whoever takes the socket next reads from its first byte.
 */
export function sniff(
  socket: Socket,
  decided: (bytes: Buffer) => boolean,
  then: (bytes: Buffer) => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    if (!decided(seen)) return;
    socket.off("data", onData);
    socket.pause();
    socket.unshift(seen);
    then(seen);
  };
  socket.on("data", onData);
}
