import { type ClientHttp2Session, connect } from "node:http2";
import type { Response } from "./http.ts";

/** An HTTP/2 client session over TLS that trusts `ca` (PEM), for the h2 tests. */
export function h2session(base: string, ca: Buffer, servername?: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = connect(base, { ca, ...(servername ? { servername } : {}) });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** One request on an HTTP/2 session, in the same shape the HTTP/1.1 helper returns. */
export function h2request(
  session: ClientHttp2Session,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": opts.method ?? "GET", ":path": path, ...opts.headers });
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    req.on("response", (h) => {
      status = Number(h[":status"]);
      headers = h as Record<string, string | string[] | undefined>;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve({ status, headers, body: Buffer.concat(chunks) }));
    req.on("error", reject);
    req.end(opts.body);
  });
}
