import type { Logger } from "../../core/logger.ts";
import type { Transport } from "./transport.ts";
import type { Upstream } from "./upstream.ts";

export interface HealthCheck {
  path: string;
  interval: number;
  timeout: number;
  expect_status: number;
}

/**
 * Active health checks: every `interval`, a GET of `path` on each upstream; an upstream
 * that does not answer `expect_status` within `timeout` is taken out until a check passes.
 * Returns the function that stops them.
 */
export function startHealthChecks(
  upstreams: Upstream[],
  transports: Map<Upstream, Transport>,
  check: HealthCheck,
  log: Logger,
): () => void {
  let stopped = false;
  const probe = async (u: Upstream) => {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), check.timeout);
    let ok = false;
    try {
      const res = await transports.get(u)!.request({
        method: "GET",
        path: check.path,
        headers: [
          ["Host", u.address.host ?? "localhost"],
          ["User-Agent", "wharf-health-check"],
        ],
        body: undefined,
        bodyLength: undefined,
        cgi: {
          scriptName: "",
          pathInfo: check.path,
          serverName: "localhost",
          serverPort: "80",
          remoteAddr: "127.0.0.1",
          remotePort: 0,
          https: false,
          protocol: "HTTP/1.1",
        },
        signal: abort.signal,
      });
      if (!Buffer.isBuffer(res.body)) res.body.resume();
      ok = res.status === check.expect_status;
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
    }
    if (stopped) return;
    if (ok !== u.healthy)
      log.warn(ok ? "upstream healthy again" : "upstream failed its health check", {
        upstream: u.address.text,
      });
    u.healthy = ok;
  };
  const run = () => {
    for (const u of upstreams) void probe(u);
  };
  run();
  const timer = setInterval(run, check.interval);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
