import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request over a fresh connection through node:http (a well-behaved client). */
export function request(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return new Promise((res, rej) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: opts.method ?? "GET", headers: opts.headers, agent: false },
      (r) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () =>
          res({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }),
        );
        r.on("error", rej);
      },
    );
    req.on("error", rej);
    req.end();
  });
}

/**
 * Writes raw bytes on a new connection and collects everything until the server closes it
 * (or `timeoutMs` passes: then `timedOut` is true and the connection is cut).
 */
export function raw(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  opts: { timeoutMs?: number; gapMs?: number } = {},
): Promise<{ text: string; bytes: Buffer; timedOut: boolean }> {
  return new Promise((res, rej) => {
    const sock = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      sock.destroy();
    }, opts.timeoutMs ?? 5000);
    sock.on("connect", async () => {
      const parts = Array.isArray(data) ? data : [data];
      for (const p of parts) {
        if (sock.destroyed) break;
        sock.write(p);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
    sock.on("data", (c: Buffer) => chunks.push(c));
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "ECONNRESET" && e.code !== "EPIPE") rej(e);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      const bytes = Buffer.concat(chunks);
      res({ text: bytes.toString("latin1"), bytes, timedOut });
    });
  });
}

/** Splits a stream of HTTP/1.1 responses (Content-Length framed, or bodiless) into parts. */
export function splitResponses(
  text: string,
  methods: string[] = [],
): { status: number; head: string; body: string }[] {
  const out: { status: number; head: string; body: string }[] = [];
  let rest = text;
  while (rest.startsWith("HTTP/")) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) break;
    const head = rest.slice(0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const bodiless = status === 304 || status === 204 || methods[out.length] === "HEAD";
    const len = m && !bodiless ? Number(m[1]) : 0;
    out.push({ status, head, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

/** A header value from a raw head, case-insensitively. */
export function headerOf(head: string, name: string): string | undefined {
  const m = new RegExp(`\\r\\n${name}: *([^\\r]*)`, "i").exec(head);
  return m?.[1];
}

/** A GET from a chosen local address (127.0.0.2…) on a new connection, so a test can tell client from proxy. */
export function getFrom(
  localAddress: string,
  port: number,
  path: string,
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, localAddress, headers, agent: false }, (res) => {
      textOf(res).then(resolve, reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** A GET over HTTPS on a new connection (a new handshake each time); with `ca`, the certificate must chain to it. */
export function httpsGet(
  port: number,
  name: string,
  path: string,
  ca?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path,
        servername: name,
        headers: { host: name },
        ...(ca === undefined ? { rejectUnauthorized: false } : { ca }),
        agent: false,
      },
      (res) => {
        textOf(res).then(resolve, reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A response's status and its body as text, once it has all come. */
async function textOf(res: IncomingMessage): Promise<{ status: number; body: string }> {
  let body = "";
  for await (const c of res) body += (c as Buffer).toString();
  return { status: res.statusCode ?? 0, body };
}
