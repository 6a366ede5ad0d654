import type { FailureKind } from "../../http/upstream.ts";

/** Methods a request may be sent again for once it may have reached the app (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);

/** What is known after an attempt failed. */
export interface FailedAttempt {
  kind: FailureKind;
  /** The socket error's code, when there was one (ECONNRESET…). */
  code: string;
  method: string;
  /** The body can be sent again: none, or read in full before the first attempt. */
  replayable: boolean;
  /** A streamed body has been read from already (it cannot be sent again). */
  bodyTouched: boolean;
  /** The one retry of a reset kept-alive connection was used already. */
  resetRetried: boolean;
}

/**
 * What to do after a failed attempt:
 * - `same`: try again on the same upstream, which is not at fault: a kept-alive connection
 *   it had closed was reset as it was reused, before any answer (once, when the body can
 *   be replayed, whatever the method, as browsers and Go's HTTP client do);
 * - `next`: count the failure and try another upstream: nothing reached the app (connect),
 *   or an idempotent request whose body was not consumed;
 * - `stop`: count the failure and give up (502, or 504 after a timeout).
 */
export function afterFailure(a: FailedAttempt): "same" | "next" | "stop" {
  const reset = a.code === "ECONNRESET" || a.code === "EPIPE";
  if (!a.resetRetried && a.replayable && a.kind === "protocol" && reset) return "same";
  if (a.bodyTouched || a.kind === "timeout") return "stop";
  if (a.kind === "connect") return "next";
  return IDEMPOTENT.has(a.method) ? "next" : "stop";
}
