import type { HandlerInstance } from "../handler.ts";
import type { RespondConfig } from "./schema.ts";

/** Answers every request with a fixed status, body and headers. */
export function createRespond(cfg: RespondConfig): HandlerInstance {
  const body = Buffer.from(cfg.body);
  const headers = Object.entries(cfg.headers);
  const hasType = headers.some(([k]) => k.toLowerCase() === "content-type");
  return {
    handle(ex) {
      for (const [k, v] of headers) ex.setHeader(k, v);
      if (!hasType && body.length > 0) ex.setHeader("Content-Type", "text/plain; charset=utf-8");
      ex.send(cfg.status, body);
    },
  };
}
