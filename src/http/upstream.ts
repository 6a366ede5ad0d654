import type { Readable } from "node:stream";

/** A request wharf sends to an upstream as a client. */
export interface ClientRequest {
  method: string;
  /** Path and query as sent upstream. */
  path: string;
  headers: [string, string][];
  body: Readable | Buffer | undefined;
  /** Body length when known (buffered bodies, or a declared Content-Length). */
  bodyLength: number | undefined;
  /** Aborts the exchange with the upstream (the client went away). */
  signal: AbortSignal;
}

/** What an upstream answered. */
export interface ClientResponse {
  status: number;
  headers: [string, string][];
  /** The body as it streams in; or all of it, when it came with the head. */
  body: Readable | Buffer;
  /** Trailer fields that came after a chunked body (complete once it has ended). */
  trailers?: () => readonly (readonly [string, string])[];
}

/** Why an exchange with an upstream failed: decides retry and the status the client gets. */
export type FailureKind = "connect" | "timeout" | "protocol";

/** A failed exchange with an upstream; `cause` keeps the socket error (its `code`) when there was one. */
export class UpstreamError extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamError";
    this.kind = kind;
  }

  /** The socket error's code (ECONNRESET, ECONNREFUSED…), or "". */
  get code(): string {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code ?? "";
  }
}

/** How long an exchange with an upstream may take at each stage, in ms. */
export interface Timeouts {
  connect: number;
  /** From request sent to response head received. */
  header: number;
  /** Longest silence while reading the response body. */
  read: number;
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOENT",
  "EACCES",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNECTTIMEOUT",
]);

/** Classifies a socket or TLS error: what kept a connection from being made, or what broke one. */
export function classify(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? "";
  if (
    CONNECT_CODES.has(code) ||
    code.startsWith("ERR_TLS") ||
    code.startsWith("CERT_") ||
    code.includes("SELF_SIGNED")
  ) {
    return new UpstreamError("connect", `${code}: ${e.message}`, { cause: err });
  }
  if (code === "ETIMEDOUT") return new UpstreamError("timeout", `${code}: ${e.message}`, { cause: err });
  return new UpstreamError("protocol", `${code || e?.name || "error"}: ${e?.message ?? String(err)}`, {
    cause: err,
  });
}
