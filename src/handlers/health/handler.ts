import type { HandlerInstance } from "../handler.ts";

const BODY = Buffer.from('{"status":"ok"}\n');

/**
 * Answers 200 `{"status":"ok"}`, never cached, for GET and HEAD (a stopping worker closes
 * its listeners first, so a load balancer's check fails over before requests would).
 */
export function createHealth(): HandlerInstance {
  return {
    handle(ex) {
      if (ex.method !== "GET" && ex.method !== "HEAD") {
        ex.setHeader("Allow", "GET, HEAD");
        return ex.send(405);
      }
      ex.setHeader("Content-Type", "application/json");
      ex.setHeader("Cache-Control", "no-store");
      ex.send(200, BODY);
    },
  };
}
