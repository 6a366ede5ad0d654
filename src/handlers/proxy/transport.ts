import type { Readable } from "node:stream";

/** Request facts the CGI-style protocols (uwsgi, FastCGI) send as variables. */
export interface CgiInfo {
  scriptName: string;
  /** Decoded path after the script name. */
  pathInfo: string;
  serverName: string;
  serverPort: string;
  remoteAddr: string;
  remotePort: number;
  https: boolean;
  protocol: string;
}

/** A request on its way to an upstream. */
export interface UpstreamRequest {
  method: string;
  /** Path and query as sent upstream. */
  path: string;
  headers: [string, string][];
  body: Readable | Buffer | undefined;
  /** Body length when known (buffered bodies, or a declared Content-Length). */
  bodyLength: number | undefined;
  cgi: CgiInfo;
  /** Aborts the upstream exchange (the client went away). */
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: [string, string][];
  /** The body as it streams in; or all of it, when it came with the head. */
  body: Readable | Buffer;
  /** Trailer fields that came after a chunked body (complete once it has ended). */
  trailers?: () => readonly (readonly [string, string])[];
}

/** Why an upstream exchange failed: decides retry and the status the client gets. */
export type FailureKind = "connect" | "timeout" | "protocol";

export class UpstreamError extends Error {
  readonly kind: FailureKind;
  constructor(kind: FailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamError";
    this.kind = kind;
  }
}

export interface Timeouts {
  connect: number;
  header: number;
  read: number;
}

/** Speaks one protocol to one upstream. */
export interface Transport {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
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
  "UND_ERR_CONNECT_TIMEOUT",
  "ECONNECTTIMEOUT",
]);

/** Classifies a socket or client error. */
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
  if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT" || code === "ETIMEDOUT") {
    return new UpstreamError("timeout", `${code}: ${e.message}`, { cause: err });
  }
  return new UpstreamError("protocol", `${code || e?.name || "error"}: ${e?.message ?? String(err)}`, {
    cause: err,
  });
}
