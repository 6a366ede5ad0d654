import type { Readable } from "node:stream";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import { H1Client } from "../../http/h1-client.ts";
import type { ClientResponse } from "../../http/upstream.ts";
import { parseUpstreamAddress, type UpstreamAddress } from "../../http/upstream-address.ts";
import type { HandlerContext, HandlerInstance } from "../handler.ts";
import { connectionListed, HOP_BY_HOP, requestAuthority } from "../proxy/forwarded.ts";
import type { ForwardAuthConfig } from "./schema.ts";

/** Request fields not sent to the auth service (there is no body; hop-by-hop ones are the connection's). */
const NOT_SENT = new Set([...HOP_BY_HOP, "content-length", "expect", "host"]);

/**
 * The `forward_auth` guard: a subrequest to the auth service with the request's method,
 * fields, and where it was going (X-Forwarded-Method, -Uri, -Host, -Proto, -For). A 2xx lets
 * the request through, with the fields listed in `copy_headers` copied into it (a client's
 * own values of those fields are always dropped: they cannot be forged). Any other answer
 * (a 302 to the login page, a 401 with its challenge) goes to the client as it is.
 */
export function createForwardAuth(cfg: ForwardAuthConfig, ctx: HandlerContext): HandlerInstance {
  const address = parseUpstreamAddress(cfg.to) as UpstreamAddress;
  const client = new H1Client(address, {
    timeouts: { connect: Math.min(5000, cfg.timeout), header: cfg.timeout, read: cfg.timeout },
    maxConnections: 256,
    idleTimeout: 30_000,
    tls: { verify: true, serverName: address.host },
  });
  const copied = cfg.copy_headers.map((h) => h.toLowerCase());
  const log = ctx.log;

  const ask = (ex: Exchange): Promise<ClientResponse> => {
    const raw = ex.rawHeaders();
    const headers: [string, string][] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (lower.charCodeAt(0) === 58 || NOT_SENT.has(lower) || lower.startsWith("x-forwarded-")) continue;
      headers.push([name, raw[i + 1]!]);
    }
    const authority = requestAuthority(ex);
    headers.push(
      ["Host", address.socketPath ? "localhost" : `${address.host}:${address.port}`],
      ["X-Forwarded-Method", ex.method],
      ["X-Forwarded-Uri", ex.target],
      ["X-Forwarded-Host", authority],
      ["X-Forwarded-Proto", ex.scheme],
      ["X-Forwarded-For", ex.clientIp],
    );
    const abort = new AbortController();
    ex.onDone(() => abort.abort());
    return client.request({
      method: ex.method === "HEAD" ? "HEAD" : "GET",
      path: cfg.uri,
      headers,
      body: undefined,
      bodyLength: undefined,
      signal: abort.signal,
    });
  };

  return {
    async handle(ex, next) {
      let res: ClientResponse;
      try {
        res = await ask(ex);
      } catch (err) {
        log.warn("auth service failed", { to: cfg.to, error: (err as Error).message, request_id: ex.id });
        return sendError(ex, 502, "the authentication service did not answer");
      }
      for (const name of copied) ex.removeRequestHeader(name);
      if (res.status >= 200 && res.status < 300) {
        for (const [k, v] of res.headers) if (copied.includes(k.toLowerCase())) ex.setRequestHeader(k, v);
        if (!Buffer.isBuffer(res.body)) res.body.resume();
        return next();
      }
      // The auth service's answer is the client's: its status, fields and body.
      let listed = new Set<string>();
      for (const [k, v] of res.headers) if (k.toLowerCase() === "connection") listed = connectionListed(v);
      let length: number | undefined;
      for (const [k, v] of res.headers) {
        const lower = k.toLowerCase();
        if (lower === "content-length") length = Number(v);
        else if (!HOP_BY_HOP.has(lower) && !listed.has(lower) && lower !== "date" && lower !== "server")
          ex.appendHeader(k, v);
      }
      if (Buffer.isBuffer(res.body)) return ex.send(res.status, res.body);
      ex.stream(res.status, res.body as Readable, length);
    },
    close: () => client.close(),
  };
}
