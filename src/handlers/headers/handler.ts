import type { Exchange } from "../../http/exchange.ts";
import type { HandlerInstance } from "../handler.ts";
import type { HeadersConfig } from "./schema.ts";

/** A filter: changes response headers just before they are written, then passes the request on. */
export function createHeaders(cfg: HeadersConfig): HandlerInstance {
  const set = Object.entries(cfg.set);
  const add = Object.entries(cfg.add);
  const remove = cfg.remove;
  const apply = (ex: Exchange) => {
    for (const name of remove) ex.removeHeader(name);
    for (const [k, v] of set) ex.setHeader(k, v);
    for (const [k, v] of add) for (const one of Array.isArray(v) ? v : [v]) ex.appendHeader(k, one);
  };
  return {
    handle(ex, next) {
      ex.onHead(apply);
      return next();
    },
  };
}
