/**
 * The error catalogue: every error wharf raises on purpose has a stable code and,
 * where it ends a request, the HTTP status it maps to.
 */
export const ERRORS = {
  WHARF_ERR_CONFIG: { status: 500, text: "invalid configuration" },
  WHARF_ERR_USAGE: { status: 500, text: "invalid command line" },
  WHARF_ERR_LISTEN: { status: 500, text: "cannot listen" },
  WHARF_ERR_BAD_REQUEST: { status: 400, text: "Bad Request" },
  WHARF_ERR_NOT_FOUND: { status: 404, text: "Not Found" },
  WHARF_ERR_FORBIDDEN: { status: 403, text: "Forbidden" },
  WHARF_ERR_METHOD: { status: 405, text: "Method Not Allowed" },
  WHARF_ERR_PRECONDITION: { status: 412, text: "Precondition Failed" },
  WHARF_ERR_BODY_TOO_LARGE: { status: 413, text: "Content Too Large" },
  WHARF_ERR_URI_TOO_LONG: { status: 414, text: "URI Too Long" },
  WHARF_ERR_RANGE: { status: 416, text: "Range Not Satisfiable" },
  WHARF_ERR_HEADERS_TOO_LARGE: { status: 431, text: "Request Header Fields Too Large" },
  WHARF_ERR_INTERNAL: { status: 500, text: "Internal Server Error" },
  WHARF_ERR_TIMEOUT: { status: 408, text: "Request Timeout" },
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
