import { timingSafeEqual } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import { parseListenAddress } from "../config/listen-address.ts";
import type { WharfConfig } from "../config/types.ts";
import type { Logger } from "../core/logger.ts";
import type { ServerControl } from "../server/control.ts";
import { routeAdmin } from "./api.ts";

export interface AdminOptions {
  /** `unix:/path.sock` or `host:port`. */
  listen: string;
  /** Required as `Authorization: Bearer …` when set. */
  token: string | null;
  /** Where `POST /config` bodies resolve relative paths. */
  baseDir: string;
}

/** Whether a request carries the token, as a Bearer token or the dashboard's cookie. */
function authorized(req: IncomingMessage, token: string): boolean {
  const want = Buffer.from(token);
  const given = [
    /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1],
    /(?:^|;\s*)wharf_admin=([^;]+)/.exec(req.headers.cookie ?? "")?.[1],
  ];
  return given.some((g) => {
    if (g === undefined) return false;
    const b = Buffer.from(g.includes("%") ? safeDecode(g) : g);
    return b.length === want.length && timingSafeEqual(b, want);
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Whether a request to a TCP admin listener names it: Host is the listener's address or a
 * loopback name on its port, and an Origin, if sent, is that same host.
 */
function sameOrigin(req: IncomingMessage, listen: string): boolean {
  const host = (req.headers.host ?? "").toLowerCase();
  const port = parseListenAddress(listen)?.port;
  const hostOk =
    host === listen.toLowerCase() ||
    [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`].includes(host) ||
    host === `${(parseListenAddress(listen)?.host ?? "").toLowerCase()}:${port}`;
  if (!hostOk) return false;
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${host}`;
}

/** Whether something answers on a unix socket (a live server holds it). */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * The admin API of a running server (JSON endpoints, /metrics, the dashboard), in the
 * primary process: on a unix socket only its owner may open (mode 0600), or on TCP. A
 * stale socket file left by a crash is replaced; one a live server holds is left alone
 * (this server then runs without an admin API, and says so).
 */
export async function startAdmin(
  control: ServerControl,
  opts: AdminOptions,
  log: Logger,
  validate: (raw: string, type: string, baseDir: string) => Promise<WharfConfig>,
): Promise<Server | undefined> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      log.error("admin request failed", { err });
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: "internal error" }));
    });
  });
  const tcp = !opts.listen.startsWith("unix:");
  const refuse = (
    res: ServerResponse,
    status: number,
    error: string,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "Content-Type": "application/json", ...headers });
    res.end(`${JSON.stringify({ errors: [error] })}\n`);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // A web page the operator has open must not reach a token-less (loopback) admin API
    // through their browser: a Host that is not this listener (DNS rebinding) or a foreign
    // Origin is refused.
    if (tcp && opts.token === null && !sameOrigin(req, opts.listen))
      return refuse(res, 403, "Host or Origin is not this admin listener");
    if (opts.token !== null && !authorized(req, opts.token)) {
      const url = new URL(req.url ?? "/", "http://admin");
      // The dashboard opened as /?token=… keeps the token in a cookie for its own requests.
      if (req.method === "GET" && url.pathname === "/" && url.searchParams.get("token") === opts.token) {
        res.writeHead(303, {
          Location: "/",
          "Set-Cookie": `wharf_admin=${encodeURIComponent(opts.token)}; HttpOnly; SameSite=Strict; Path=/`,
        });
        return res.end();
      }
      return refuse(res, 401, "a Bearer token is required", {
        "WWW-Authenticate": 'Bearer realm="wharf admin"',
      });
    }
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const answer = await routeAdmin(control, {
      method: req.method ?? "GET",
      url: new URL(req.url ?? "/", "http://admin"),
      body: Buffer.concat(parts).toString("utf8"),
      type: req.headers["content-type"] ?? "",
      tcp,
      validate: (raw, type) => validate(raw, type, opts.baseDir),
    });
    res.writeHead(answer.status, { "Content-Type": answer.type, "Cache-Control": "no-store" });
    res.end(answer.body);
  };
  try {
    if (opts.listen.startsWith("unix:")) {
      const path = opts.listen.slice(5);
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      if (await socketInUse(path)) {
        log.warn("admin API off: another server holds its socket", { socket: path });
        return undefined;
      }
      rmSync(path, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve());
      });
      chmodSync(path, 0o600);
      server.once("close", () => rmSync(path, { force: true }));
    } else {
      const a = parseListenAddress(opts.listen)!;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(a.port, a.host === "" ? "::" : a.host === "localhost" ? "127.0.0.1" : a.host, () =>
          resolve(),
        );
      });
    }
  } catch (err) {
    log.warn("admin API off: cannot listen", { listen: opts.listen, error: (err as Error).message });
    return undefined;
  }
  server.unref();
  log.info("admin API listening", { listen: opts.listen });
  return server;
}
