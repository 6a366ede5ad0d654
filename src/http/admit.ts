import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { HttpLimits } from "./limits.ts";
import { rawResponse } from "./raw-response.ts";
import { type Routed, routeTarget } from "./target.ts";

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** What admission found: the request-target to route and the host. */
export type Admitted = Routed;

/**
 * The protocol-level checks every request passes before it becomes an Exchange: version,
 * target length, header block size, Host (exactly one on HTTP/1.1; `:authority` on h2),
 * transfer codings (RFC 9112 §6.3), declared body size, `OPTIONS *` and absolute-form.
 * Answers and returns undefined when the request is refused or fully answered here.
 */
export function admit(req: AnyRequest, res: AnyResponse, limits: HttpLimits): Admitted | undefined {
  const url = req.url ?? "";
  // A real HTTP/2 request (not "HTTP/2.0" written on an HTTP/1 connection) has a stream.
  const h2 = "stream" in req;
  if (req.httpVersionMajor !== 1 && !h2) return reject(res, req.httpVersionMajor === 0 ? 400 : 505);
  if (url.length > limits.maxUriLength) return reject(res, 414);
  // One pass over the raw header lines: their total size and how many Host fields there are.
  const raw = req.rawHeaders;
  let size = 0;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    size += name.length + raw[i + 1]!.length + 4;
    if (name.length === 4 && name.toLowerCase() === "host") hosts++;
  }
  if (size > limits.maxHeaderSize) return reject(res, 431);
  if (hosts > 1) return reject(res, 400);
  if (!h2) {
    const te = req.headers["transfer-encoding"];
    if (te !== undefined) {
      // RFC 9112 §6.3: chunked must be the final (and, here, only) coding of a request.
      const codings = te
        .toLowerCase()
        .split(",")
        .map((c) => c.trim());
      if (codings[codings.length - 1] !== "chunked") return reject(res, 400);
      if (codings.length > 1) return reject(res, 501);
    }
  }
  const cl = req.headers["content-length"];
  if (cl !== undefined && Number(cl) > limits.maxBodySize) return reject(res, 413);

  const hostValue = h2
    ? ((req.headers[":authority"] as string | undefined) ?? req.headers.host)
    : req.headers.host;
  const routed = routeTarget(req.method ?? "GET", url, hostValue ?? "");
  if (typeof routed === "number") return reject(res, routed);
  return routed;
}

function reject(res: AnyResponse, status: number): undefined {
  (res as { shouldKeepAlive?: boolean }).shouldKeepAlive = false;
  const head = rawResponse(status);
  // The head was parsed; answer through the response object so pipelined order holds.
  const body = head.subarray(head.indexOf("\r\n\r\n") + 4);
  // The h2 compatibility response takes the same arguments.
  (res as ServerResponse).writeHead(status, [
    "Content-Type",
    "text/plain; charset=utf-8",
    "Content-Length",
    String(body.length),
  ]);
  res.end(body);
  return undefined;
}
