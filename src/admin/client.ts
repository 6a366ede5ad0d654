import { request } from "node:http";
import { parseListenAddress } from "../config/listen-address.ts";

/** Where a CLI command finds a running server's admin API. */
export interface AdminTarget {
  /** `unix:/path.sock` or `host:port`. */
  listen: string;
  token: string | null;
}

/** One admin API call; resolves with the status and the parsed JSON (or the text) of the answer. */
export function callAdmin(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const unix = target.listen.startsWith("unix:") ? target.listen.slice(5) : undefined;
  const tcp = unix === undefined ? parseListenAddress(target.listen) : undefined;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...(unix !== undefined ? { socketPath: unix } : { host: tcp?.host || "127.0.0.1", port: tcp?.port }),
        method,
        path,
        headers: {
          ...(payload !== undefined ? { "Content-Type": "application/json" } : {}),
          ...(target.token ? { Authorization: `Bearer ${target.token}` } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT" || err.code === "ECONNREFUSED"
          ? new Error(`no wharf answers at ${target.listen} (is it running, with this config?)`)
          : err,
      ),
    );
    req.on("timeout", () => req.destroy(new Error("the admin API did not answer in time")));
    req.end(payload);
  });
}
