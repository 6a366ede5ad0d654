import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { HandlerInstance } from "../handler.ts";
import type { RedirectConfig } from "./schema.ts";

/** Placeholders a redirect target may use, and where their values come from. */
const PLACEHOLDERS: Record<string, (ex: Exchange) => string> = {
  scheme: (ex) => ex.scheme,
  host: (ex) => ex.host,
  path: (ex) => ex.rawPath,
  query: (ex) => ex.query,
  uri: (ex) => ex.target,
};

/** Answers with a redirect to `to`, its placeholders filled in from the request. */
export function createRedirect(cfg: RedirectConfig): HandlerInstance {
  const parts = cfg.to.split(/(\{[a-z]+\})/);
  const render = (ex: Exchange) =>
    parts
      .map((p) => (p.startsWith("{") && PLACEHOLDERS[p.slice(1, -1)] ? PLACEHOLDERS[p.slice(1, -1)]!(ex) : p))
      .join("");
  return {
    handle(ex) {
      ex.setHeader("Location", render(ex));
      sendError(ex, cfg.status);
    },
  };
}
