import type { UpstreamRequest } from "./transport.ts";

/**
 * The CGI/1.1 meta-variables (RFC 3875 §4.1) a WSGI or PHP app expects, for uwsgi and
 * FastCGI. Request fields become HTTP_* (fields whose names have underscores are dropped,
 * as nginx does, since `X_Forwarded_For` and `X-Forwarded-For` would collide).
 */
export function cgiVariables(req: UpstreamRequest): [string, string][] {
  const q = req.path.indexOf("?");
  const vars: [string, string][] = [
    ["GATEWAY_INTERFACE", "CGI/1.1"],
    ["SERVER_SOFTWARE", "wharf"],
    ["REQUEST_METHOD", req.method],
    ["REQUEST_URI", req.path],
    ["SCRIPT_NAME", req.cgi.scriptName],
    ["PATH_INFO", req.cgi.pathInfo],
    ["QUERY_STRING", q === -1 ? "" : req.path.slice(q + 1)],
    ["SERVER_NAME", req.cgi.serverName],
    ["SERVER_PORT", req.cgi.serverPort],
    ["SERVER_PROTOCOL", req.cgi.protocol],
    ["REMOTE_ADDR", req.cgi.remoteAddr],
    ["REMOTE_PORT", String(req.cgi.remotePort)],
    ["UWSGI_SCHEME", req.cgi.https ? "https" : "http"],
  ];
  if (req.cgi.https) vars.push(["HTTPS", "on"]);
  let contentType: string | undefined;
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === "content-type") contentType = value;
    else if (lower === "content-length") continue;
    else if (!name.includes("_")) {
      const key = `HTTP_${name.toUpperCase().replace(/-/g, "_")}`;
      const prev = vars.findIndex(([k]) => k === key);
      if (prev !== -1) vars[prev]![1] += `, ${value}`;
      else vars.push([key, value]);
    }
  }
  if (contentType !== undefined) vars.push(["CONTENT_TYPE", contentType]);
  vars.push(["CONTENT_LENGTH", req.bodyLength !== undefined ? String(req.bodyLength) : ""]);
  return vars;
}
