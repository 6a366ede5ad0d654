import { createHash } from "node:crypto";
import { type Agent, request as httpRequest } from "node:http";

export interface HashedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  size: number;
  sha256: string;
  text: string;
  complete: boolean;
}

/**
 * One request whose response body is hashed as it streams (for bodies of 100 MiB), with
 * an optional body sent with Content-Length (`chunked: false`) or chunked.
 */
export function hashedRequest(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer;
    chunked?: boolean;
    agent?: Agent | false;
  } = {},
): Promise<HashedResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body && !opts.chunked) headers["Content-Length"] = String(opts.body.length);
    const req = httpRequest(
      url,
      { method: opts.method ?? "GET", headers, agent: opts.agent ?? false },
      (res) => {
        const h = createHash("sha256");
        let size = 0;
        let text = "";
        res.on("data", (c: Buffer) => {
          h.update(c);
          size += c.length;
          if (text.length < 4096) text += c.toString("latin1");
        });
        const done = () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            size,
            sha256: h.digest("hex"),
            text,
            complete: res.complete,
          });
        res.on("end", done);
        res.on("error", done);
        res.on("aborted", () => {});
      },
    );
    req.on("error", reject);
    if (opts.body) {
      // Large bodies go in 1 MiB writes, so a chunked upload really is many chunks.
      for (let i = 0; i < opts.body.length; i += 1 << 20) req.write(opts.body.subarray(i, i + (1 << 20)));
    }
    req.end();
  });
}

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
