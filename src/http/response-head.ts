import { WharfError } from "../core/errors.ts";
/** A parsed response head and the bytes after it. */
export interface ParsedHead {
  status: number;
  headers: [string, string][];
  rest: Buffer;
}

const MAX_HEAD = 64 * 1024;

/**
 * Parses a response head from the start of `buf`: an HTTP/1.x status line and fields
 * (`mode: "http"`, as uWSGI answers), or CGI fields with an optional `Status:` (FastCGI).
 * Returns undefined while incomplete; throws on garbage or a head over 64 KiB.
 */
export function parseResponseHead(buf: Buffer, mode: "http" | "cgi"): ParsedHead | undefined {
  let end = buf.indexOf("\r\n\r\n");
  let sepLen = 4;
  if (end === -1 && mode === "cgi") {
    end = buf.indexOf("\n\n");
    sepLen = 2;
  }
  if (end === -1) {
    if (buf.length > MAX_HEAD) throw new WharfError("WHARF_ERR_BAD_UPSTREAM", "response head too large");
    return undefined;
  }
  const lines = buf.subarray(0, end).toString("latin1").split(/\r?\n/);
  let status = 200;
  if (mode === "http") {
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines.shift() ?? "");
    if (!m) throw new WharfError("WHARF_ERR_BAD_UPSTREAM", "malformed status line");
    status = Number(m[1]);
  }
  const headers: [string, string][] = [];
  let sawStatus = false;
  let location = false;
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /[\s]/.test(line.slice(0, colon)))
      throw new WharfError("WHARF_ERR_BAD_UPSTREAM", "malformed header line");
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (mode === "cgi" && name.toLowerCase() === "status") {
      const m = /^(\d{3})/.exec(value);
      if (!m) throw new WharfError("WHARF_ERR_BAD_UPSTREAM", "malformed Status");
      status = Number(m[1]);
      sawStatus = true;
      continue;
    }
    if (name.toLowerCase() === "location") location = true;
    headers.push([name, value]);
  }
  // CGI/1.1 §6.2.3: a Location without Status is a redirect.
  if (mode === "cgi" && !sawStatus && location) status = 302;
  if (status < 100 || status > 599) throw new WharfError("WHARF_ERR_BAD_UPSTREAM", "invalid status");
  return { status, headers, rest: buf.subarray(end + sepLen) };
}
