import type { Logger } from "../../core/logger.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { UpstreamError } from "../../http/upstream.ts";
import type { UpstreamTls } from "../../http/upstream-connect.ts";
import { withHost } from "./request.ts";
import type { ProxyConfig } from "./schema.ts";
import type { Selector } from "./select.ts";
import { tunnel } from "./tunnel.ts";
import type { Upstream } from "./upstream.ts";

/** What an upgrade needs from its proxy: where to go and how failures count. */
export interface UpgradeContext {
  cfg: ProxyConfig;
  log: Logger;
  tls: UpstreamTls;
  select: Selector;
  candidates(): Upstream[];
  markFailed(u: Upstream, why: string): void;
}

/**
 * A protocol switch (WebSocket) through the proxy: over HTTP only (uwsgi and FastCGI have
 * no upgrades), never buffered, tunnelled both ways once the upstream agrees.
 */
export async function proxyUpgrade(
  ex: Exchange,
  path: string,
  headers: [string, string][],
  cookie: string | undefined,
  c: UpgradeContext,
): Promise<void> {
  const list = c.candidates().filter((u) => u.address.protocol === "http");
  if (list.length === 0) return sendError(ex, 501, "this upstream cannot switch protocols");
  const u = c.select(list, { clientIp: ex.clientIp, cookie });
  try {
    await tunnel(ex, u.address, path, withHost(headers, u, c.cfg.preserve_host), {
      connectTimeout: c.cfg.timeouts.connect,
      headerTimeout: c.cfg.timeouts.header,
      idleTimeout: c.cfg.timeouts.tunnel_idle,
      tls: c.tls,
    });
  } catch (err) {
    const e = err as UpstreamError;
    c.markFailed(u, e.message);
    c.log.warn("upgrade failed", { upstream: u.address.text, error: e.message, request_id: ex.id });
    sendError(ex, e.kind === "timeout" ? 504 : 502);
  }
}
