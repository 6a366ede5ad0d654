import { connect as tlsConnect } from "node:tls";

/**
 * Connects (resuming `session` if given); resolves with whether the session was resumed
 * and the ticket the server sent, if any (TLS 1.3 tickets come just after the handshake).
 */
export function handshake(
  port: number,
  ca: Buffer,
  session?: Buffer,
): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca,
      ...(session ? { session } : {}),
    });
    let ticket: Buffer | undefined;
    s.on("session", (t: Buffer) => {
      ticket = t;
    });
    s.once("secureConnect", () => {
      // A resumed session is known now; a new one's ticket arrives just after.
      setTimeout(
        () => {
          resolve({ reused: s.isSessionReused(), ticket });
          s.destroy();
        },
        session ? 0 : 150,
      );
    });
    s.on("error", reject);
    s.resume();
  });
}
