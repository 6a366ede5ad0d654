import { connect as h2connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { type Response, request } from "./http.ts";

/** The ways the handler suites reach wharf: every handler must behave the same over each. */
export const PROTOCOLS = ["h1", "h1-tls", "h2"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface Client {
  request(path: string, opts?: { method?: string; headers?: Record<string, string> }): Promise<Response>;
}

/** A client for `protocol` against 127.0.0.1:`port` (TLS clients trust `ca`); one connection per request. */
export function clientFor(protocol: Protocol, port: number, ca?: Buffer): Client {
  if (protocol === "h1") return { request: (path, opts) => request(`http://127.0.0.1:${port}`, path, opts) };
  if (protocol === "h1-tls") {
    return {
      request: (path, opts = {}) =>
        new Promise((resolve, reject) => {
          const req = httpsRequest(
            {
              host: "127.0.0.1",
              port,
              path,
              method: opts.method ?? "GET",
              headers: opts.headers,
              ca,
              agent: false,
            },
            (r) => {
              const chunks: Buffer[] = [];
              r.on("data", (c: Buffer) => chunks.push(c));
              r.on("end", () =>
                resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }),
              );
              r.on("error", reject);
            },
          );
          req.on("error", reject);
          req.end();
        }),
    };
  }
  return {
    request: (path, opts = {}) =>
      new Promise((resolve, reject) => {
        const session = h2connect(`https://127.0.0.1:${port}`, { ca });
        session.on("error", reject);
        const headers: Record<string, string> = { ":method": opts.method ?? "GET", ":path": path };
        for (const [k, v] of Object.entries(opts.headers ?? {})) {
          if (k.toLowerCase() === "host") headers[":authority"] = v;
          else headers[k.toLowerCase()] = v;
        }
        const req = session.request(headers);
        const chunks: Buffer[] = [];
        let status = 0;
        let out: Response["headers"] = {};
        req.on("response", (h) => {
          status = Number(h[":status"]);
          out = h as Response["headers"];
        });
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          session.close();
          resolve({ status, headers: out, body: Buffer.concat(chunks) });
        });
        req.on("error", (err) => {
          session.close();
          reject(err);
        });
        req.end();
      }),
  };
}
