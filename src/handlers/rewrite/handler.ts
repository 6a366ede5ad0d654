import { sendError } from "../../http/error-page.ts";
import { normalizePath } from "../../http/request-path.ts";
import type { HandlerInstance } from "../handler.ts";
import type { RewriteConfig } from "./schema.ts";

/**
 * The `rewrite` filter (an internal rewrite, not a redirect): when the decoded path matches
 * `path`, the request goes on as `to` (captures as `{1}`, `{2}`…), its query kept unless
 * `to` has one; the routes after it see the new path. A path that does not match passes
 * unchanged.
 */
export function createRewrite(cfg: RewriteConfig): HandlerInstance {
  const re = new RegExp(cfg.path);
  const parts = cfg.to.split(/(\{\d+\})/);
  return {
    handle(ex, next) {
      const m = re.exec(ex.path);
      if (m === null) return next();
      const to = parts.map((p) => (/^\{\d+\}$/.test(p) ? (m[Number(p.slice(1, -1))] ?? "") : p)).join("");
      const q = to.indexOf("?");
      const path = q === -1 ? to : to.slice(0, q);
      const query = q === -1 ? ex.query : to.slice(q);
      // Captures come from the decoded path: encoded again for the request-target.
      const raw = encodeURI(path);
      const normalized = normalizePath(raw);
      if (normalized === undefined) return sendError(ex, 400);
      ex.retarget(raw + query);
      ex.path = normalized;
      return next();
    },
  };
}
