import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pattern } from "./appserver.ts";

/**
 * An upstream in plain Node with the routes of test/fixtures/pyapp/app.py (echo, upload,
 * download, sse, slow, hop, status, die, health, redirect), so the proxy's logic
 * (balancing, retries, 502/504, forwarding) is tested on every machine; the real app
 * servers are tested where they are installed.
 */
export interface NodeUpstream {
  server: Server;
  port: number;
  /** Requests seen, by path. */
  hits: Map<string, number>;
  close(): Promise<void>;
}

/** Header names as a WSGI app sees them (Flask's `request.headers`): X-Forwarded-For, Te. */
function wsgiName(name: string): string {
  return name
    .split("-")
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1).toLowerCase())
    .join("-");
}

function json(res: ServerResponse, value: unknown, status = 200): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

type Route = (req: IncomingMessage, res: ServerResponse, url: URL, name: string) => void | Promise<void>;

const routes: [RegExp, Route][] = [
  [
    // /echo, /echo/x, and /anything/echo… (paths a guard in front passed on)
    /\/echo(\/|$)/,
    async (req, res, url, name) => {
      const body = await readBody(req);
      const headers: Record<string, string> = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const k = wsgiName(req.rawHeaders[i]!);
        headers[k] =
          headers[k] === undefined ? req.rawHeaders[i + 1]! : `${headers[k]},${req.rawHeaders[i + 1]}`;
      }
      json(res, {
        name,
        method: req.method,
        path: url.pathname,
        query: url.search.slice(1),
        script_name: "",
        path_info: url.pathname,
        scheme: "http",
        remote_addr: req.socket.remoteAddress,
        headers,
        body_size: body.length,
        body_sha256: createHash("sha256").update(body).digest("hex"),
      });
    },
  ],
  [
    /^\/upload$/,
    async (req, res, _url, name) => {
      const h = createHash("sha256");
      let size = 0;
      for await (const c of req) {
        h.update(c as Buffer);
        size += (c as Buffer).length;
      }
      json(res, { size, sha256: h.digest("hex"), name });
    },
  ],
  [
    /^\/download\/(\d+)$/,
    (_req, res, url) => {
      const size = Number(/\d+$/.exec(url.pathname)![0]);
      const data = pattern(size);
      if (url.searchParams.get("chunked")) {
        res.writeHead(200, { "Content-Type": "application/octet-stream" });
        for (let i = 0; i < size; i += 65536) res.write(data.subarray(i, i + 65536));
        res.end();
      } else {
        res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": size });
        res.end(data);
      }
    },
  ],
  [
    /^\/sse$/,
    (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      let i = 0;
      const tick = () => {
        res.write(`data: event ${i} at ${(Date.now() / 1000).toFixed(3)}\n\n`);
        if (++i < 3) setTimeout(tick, 500);
        else res.end();
      };
      tick();
    },
  ],
  [
    /^\/slow$/,
    (_req, res, url) => {
      const timer = setTimeout(() => res.end("slow\n"), Number(url.searchParams.get("s") ?? "2") * 1000);
      res.on("close", () => clearTimeout(timer));
    },
  ],
  [
    /^\/hop$/,
    (_req, res) => {
      res.setHeader("Connection", "X-Secret-Hop");
      res.setHeader("X-Secret-Hop", "must not pass");
      res.setHeader("Keep-Alive", "timeout=5");
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.end("hop\n");
    },
  ],
  [
    /^\/status\/(\d+)$/,
    (_req, res, url) => {
      const code = Number(/\d+$/.exec(url.pathname)![0]);
      res.writeHead(code, { "Content-Type": "text/plain" });
      res.end(`status ${code}\n`);
    },
  ],
  [
    /^\/die$/,
    (_req, res) => {
      // Part of a declared body, then the connection dies: the client must see the cut.
      res.writeHead(200, { "Content-Length": 1_000_000 });
      res.write(Buffer.alloc(65536, 120));
      setTimeout(() => res.socket?.destroy(), 200);
    },
  ],
  [/^\/health$/, (_req, res) => void res.end("ok\n")],
  [
    /^\/redirect$/,
    (_req, res) => {
      res.writeHead(302, { Location: "/echo" });
      res.end();
    },
  ],
];

/** A route a test adds: exact path → what it answers. */
export type ExtraRoutes = Record<string, (req: IncomingMessage, res: ServerResponse) => void | Promise<void>>;

/** Starts an upstream named `name` on a free loopback port (or `port`), with `extra` routes first. */
export async function nodeUpstream(name: string, port = 0, extra: ExtraRoutes = {}): Promise<NodeUpstream> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://upstream");
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const own = extra[url.pathname];
    if (own) {
      void Promise.resolve(own(req, res)).catch(() => res.destroy());
      return;
    }
    const route = routes.find(([re]) => re.test(url.pathname));
    if (!route) {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found\n");
      return;
    }
    void Promise.resolve(route[1](req, res, url, name)).catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
