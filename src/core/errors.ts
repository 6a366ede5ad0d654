/**
 * The error catalogue: every error wharf raises on purpose has a stable code and,
 * where it ends a request, the HTTP status it maps to.
 */
export const ERRORS = {
  /** A configuration that does not validate, or cannot be built (a handler's resource). */
  WHARF_ERR_CONFIG: { status: 500, text: "invalid configuration" },
  WHARF_ERR_USAGE: { status: 500, text: "invalid command line" },
  /** A listen address that cannot be bound (in use, not permitted). */
  WHARF_ERR_LISTEN: { status: 500, text: "cannot listen" },
  /** A supervised app that does not start or does not become ready. */
  WHARF_ERR_APP_START: { status: 500, text: "the app did not start" },
  /** An ACME order that cannot go on. */
  WHARF_ERR_ACME: { status: 500, text: "certificate order failed" },
  WHARF_ERR_BAD_REQUEST: { status: 400, text: "Bad Request" },
  WHARF_ERR_TIMEOUT: { status: 408, text: "Request Timeout" },
  WHARF_ERR_BODY_TOO_LARGE: { status: 413, text: "Content Too Large" },
  /** An upstream answered something that is not HTTP. */
  WHARF_ERR_BAD_UPSTREAM: { status: 502, text: "Bad Gateway" },
  /** A broken promise inside wharf (a bug), never the client's or the config's doing. */
  WHARF_ERR_INTERNAL: { status: 500, text: "Internal Server Error" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** An error with a stable code from the catalogue and the HTTP status it maps to. */
export class WharfError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; status?: number }) {
    super(message ?? ERRORS[code].text, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WharfError";
    this.code = code;
    this.status = options?.status ?? ERRORS[code].status;
  }
}

/** One problem found in a configuration, located by key path and, when known, by file position. */
export interface ConfigProblem {
  path: string;
  message: string;
  file?: string;
  line?: number;
  col?: number;
}

/** A configuration that cannot be used; carries every problem found, each with its location. */
export class ConfigError extends WharfError {
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super("WHARF_ERR_CONFIG", problems.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** `file:line:col: path: message`, leaving out what is not known. */
export function formatProblem(p: ConfigProblem): string {
  let where = "";
  if (p.file !== undefined) {
    where = p.file;
    if (p.line !== undefined) where += `:${p.line}${p.col !== undefined ? `:${p.col}` : ""}`;
    where += ": ";
  }
  return `${where}${p.path ? `${p.path}: ` : ""}${p.message}`;
}

/** Standard reason phrases for the statuses wharf writes itself. */
export const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  416: "Range Not Satisfiable",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
