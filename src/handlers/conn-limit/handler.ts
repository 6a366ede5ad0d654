import { createHash } from "node:crypto";
import { sendError } from "../../http/error-page.ts";
import type { HandlerContext, HandlerInstance } from "../handler.ts";
import { compileKeyTemplate } from "../key-template.ts";
import type { ConnLimitConfig } from "./schema.ts";

/** HTTP/2's REFUSED_STREAM: the stream was not processed, the client may retry it (RFC 9113 §8.7). */
const REFUSED_STREAM = 0x7;

/**
 * The `conn_limit` guard (nginx's limit_conn): at most `max` requests per key in progress
 * at once across the instance's workers. Over it: 429 on HTTP/1.1, RST_STREAM with
 * REFUSED_STREAM on HTTP/2 (the client may retry the stream). A request's slot is given
 * back when its exchange ends, however it ends.
 */
export function createConnLimit(cfg: ConnLimitConfig, ctx: HandlerContext): HandlerInstance {
  const keyOf = compileKeyTemplate(cfg.key);
  const limit = `c${createHash("sha256").update(`${cfg.key}|${cfg.max}`).digest("hex").slice(0, 8)}`;
  return {
    handle(ex, next) {
      const body = { limit, key: keyOf(ex), max: cfg.max };
      return ctx.shared.request("conn.acquire", body).then(
        (ok) => {
          if (ok !== true) {
            if (ex.httpVersion === "2.0") return ex.abort(REFUSED_STREAM);
            ex.setHeader("Retry-After", "1");
            return sendError(ex, 429);
          }
          ex.onDone(() => void ctx.shared.request("conn.release", body).catch(() => {}));
          return next();
        },
        () => next(),
      );
    },
  };
}
