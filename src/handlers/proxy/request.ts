import { WharfError } from "../../core/errors.ts";
import type { Exchange } from "../../http/exchange.ts";
import { type BufferedBody, bufferBody } from "./buffer-body.ts";
import { requestAuthority, upstreamHeaders } from "./forwarded.ts";
import type { ProxyConfig } from "./schema.ts";
import type { CgiInfo } from "./transport.ts";
import type { Upstream } from "./upstream.ts";

/** Where a request goes upstream: the path (still encoded, with the query), and the CGI split. */
export interface UpstreamPath {
  path: string;
  scriptName: string;
  pathInfo: string;
}

/**
 * The path sent upstream after `strip_prefix` and `add_prefix`, and the CGI script name /
 * path info split (the stripped prefix is the script name).
 */
export function upstreamPath(
  ex: Exchange,
  strip: string | undefined,
  stripMatch: ((path: string) => boolean) | undefined,
  addPrefix: string | undefined,
): UpstreamPath {
  let raw = ex.rawPath;
  let pathInfo = ex.path;
  let scriptName = "";
  if (strip && stripMatch?.(ex.path)) {
    raw = raw.slice(strip.length) || "/";
    if (!raw.startsWith("/")) raw = `/${raw}`;
    pathInfo = ex.path.slice(strip.length) || "/";
    scriptName = strip;
  }
  if (addPrefix) {
    const p = addPrefix.replace(/\/$/, "");
    raw = p + raw;
    scriptName = p + scriptName;
  }
  return { path: raw + ex.query, scriptName, pathInfo };
}

/** The request's fields for the upstream: forwarded fields, then the route's own changes. */
export function requestFields(
  ex: Exchange,
  cfg: ProxyConfig,
  trusted: (ip: string) => boolean,
): [string, string][] {
  const headers = upstreamHeaders(ex, ex.rawHeaders(), { trusted, forwarded: cfg.forwarded });
  for (const name of cfg.request_headers.remove) removeField(headers, name);
  for (const [k, v] of Object.entries(cfg.request_headers.set)) {
    removeField(headers, k);
    headers.push([k, v]);
  }
  return headers;
}

/** The request body as it will be sent: read in full first, streamed, or none. */
export type RequestBody =
  | { kind: "none" }
  | { kind: "buffered"; body: BufferedBody }
  | { kind: "stream"; stream: import("node:stream").Readable; length: number | undefined };

/**
 * Reads the body in full first when `buffer` says so (it then goes with a Content-Length,
 * which `headers` is given), or leaves it to stream. A body over the limit, or one the
 * client breaks off, is the client's error: a WharfError with its status.
 */
export async function requestBody(
  ex: Exchange,
  buffer: boolean,
  memory: number,
  tempDir: string | undefined,
  headers: [string, string][],
): Promise<RequestBody> {
  if (!ex.hasBody) return { kind: "none" };
  const declared = ex.header("content-length");
  if (!buffer)
    return {
      kind: "stream",
      stream: ex.body(),
      length: declared === undefined ? undefined : Number(declared),
    };
  let body: BufferedBody;
  try {
    body = await bufferBody(ex.body(), memory, tempDir);
  } catch (err) {
    throw err instanceof WharfError
      ? err
      : new WharfError("WHARF_ERR_BAD_REQUEST", "the request body was cut off", { cause: err });
  }
  removeField(headers, "content-length");
  removeField(headers, "transfer-encoding");
  headers.push(["Content-Length", String(body.length)]);
  return { kind: "buffered", body };
}

/** The CGI facts of a request (uwsgi and FastCGI send them as variables). */
export function cgiInfo(ex: Exchange, p: UpstreamPath): CgiInfo {
  return {
    scriptName: p.scriptName,
    pathInfo: p.pathInfo,
    serverName: ex.host,
    serverPort: serverPort(ex),
    remoteAddr: ex.remoteAddress,
    remotePort: ex.remotePort,
    https: ex.scheme === "https",
    protocol: `HTTP/${ex.httpVersion}`,
  };
}

/** The header list with the Host the upstream should see. */
export function withHost(headers: [string, string][], u: Upstream, preserve: boolean): [string, string][] {
  if (preserve && headers.some(([k]) => k === "Host")) return headers;
  const a = u.address;
  const own = a.socketPath ? "localhost" : `${a.host!.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
  return [...headers.filter(([k]) => k !== "Host"), ["Host", own]];
}

/** A cookie's value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function serverPort(ex: Exchange): string {
  const m = /:(\d+)$/.exec(requestAuthority(ex));
  return m ? m[1]! : ex.scheme === "https" ? "443" : "80";
}

function removeField(headers: [string, string][], name: string): void {
  const lower = name.toLowerCase();
  for (let i = headers.length - 1; i >= 0; i--)
    if (headers[i]![0].toLowerCase() === lower) headers.splice(i, 1);
}
