import type { HandlerInstance } from "../handler.ts";

/**
 * Ends the request without an answer: the connection closes on HTTP/1.1, the stream is
 * reset on HTTP/2 (for unknown Host headers, scanners: nginx's `return 444`).
 */
export function createAbort(): HandlerInstance {
  return {
    handle(ex) {
      ex.abort();
    },
  };
}
