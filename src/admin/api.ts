import type { WharfConfig } from "../config/types.ts";
import { ConfigError } from "../core/errors.ts";
import { PROMETHEUS_TYPE } from "../core/metrics.ts";
import type { ServerControl } from "../server/control.ts";
import { DASHBOARD_HTML } from "./dashboard.ts";

/** One admin request, as the routes see it. */
export interface AdminRequest {
  method: string;
  url: URL;
  body: string;
  type: string;
  /** On a TCP listener (the dashboard is served there). */
  tcp: boolean;
  /** Validates a config body (JSON or YAML) as `wharf validate` would. */
  validate(raw: string, type: string): Promise<WharfConfig>;
}

export interface AdminAnswer {
  status: number;
  type: string;
  body: string;
}

const json = (status: number, value: unknown): AdminAnswer => ({
  status,
  type: "application/json",
  body: `${JSON.stringify(value, null, 2)}\n`,
});

/** The URL an upstream or purge request names, from a JSON body `{"url": …}`. */
function field(body: string, name: string): string | undefined {
  try {
    const v = (JSON.parse(body) as Record<string, unknown>)[name];
    return typeof v === "string" && v !== "" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an address an operator typed names an upstream: `10.0.0.7:8000` is `http://10.0.0.7:8000`. */
function sameUpstream(known: string, given: string): boolean {
  const g = given.replace(/\/+$/, "");
  return known === g || known === `http://${g}`;
}

/**
 * The admin API's routes: health, config (read, replace, reload), upstreams (and their
 * draining), certificates, cache purges, workers, deploys, Prometheus metrics, and the
 * dashboard with the JSON it polls.
 */
export async function routeAdmin(control: ServerControl, req: AdminRequest): Promise<AdminAnswer> {
  const route = `${req.method} ${req.url.pathname}`;
  switch (route) {
    case "GET /health":
      return json(200, {
        status: "ok",
        pid: process.pid,
        uptime_s: Math.round((Date.now() - control.startedAt) / 1000),
        workers: (await control.workers()).length,
      });
    case "GET /status":
      return json(200, {
        status: "ok",
        pid: process.pid,
        uptime_s: Math.round((Date.now() - control.startedAt) / 1000),
        workers: await control.workers(),
        upstreams: await control.upstreams(),
        certificates: control.certificates(),
        storage: control.storage() ?? null,
      });
    case "GET /config":
      return json(200, control.config());
    case "POST /config":
    case "PUT /config": {
      let next: WharfConfig;
      try {
        next = await req.validate(req.body, req.type);
      } catch (err) {
        if (err instanceof ConfigError)
          return json(400, {
            errors: err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
          });
        throw err;
      }
      const failed = await control.apply(next);
      return failed.length > 0 ? json(500, { errors: failed }) : json(200, { status: "applied" });
    }
    case "POST /reload": {
      const failed = await control.reload();
      return failed.length > 0 ? json(400, { errors: failed }) : json(200, { status: "reloaded" });
    }
    case "POST /deploy": {
      const failed = await control.deploy();
      return failed.length > 0 ? json(500, { errors: failed }) : json(200, { status: "deployed" });
    }
    case "GET /upstreams":
      return json(200, await control.upstreams());
    case "POST /upstreams/drain":
    case "POST /upstreams/undrain": {
      const given = field(req.body, "url");
      if (given === undefined)
        return json(400, { errors: ['the body must be {"url": "<upstream address>"}'] });
      const known = (await control.upstreams()).map((u) => u.url);
      const url = known.find((k) => sameUpstream(k, given));
      if (url === undefined)
        return json(404, {
          errors: [`no upstream ${given}; the upstreams are: ${known.join(", ") || "none"}`],
        });
      control.drain(url, route.endsWith("/drain"));
      return json(200, { url, drained: route.endsWith("/drain") });
    }
    case "GET /certificates":
      return json(200, control.certificates());
    case "POST /cache/purge": {
      const url = field(req.body, "url");
      const prefix = field(req.body, "prefix");
      if (url === undefined && prefix === undefined)
        return json(400, { errors: ['the body must be {"url": …} or {"prefix": …}'] });
      return json(200, { purged: await control.purge({ url, prefix }) });
    }
    case "GET /workers":
      return json(200, await control.workers());
    case "GET /metrics":
      return { status: 200, type: PROMETHEUS_TYPE, body: await control.metrics() };
    case "GET /":
      if (req.tcp) return { status: 200, type: "text/html; charset=utf-8", body: DASHBOARD_HTML };
      break;
    case "GET /stats":
      return json(200, {
        time: Date.now(),
        metrics: await control.metrics(),
        upstreams: await control.upstreams(),
        certificates: control.certificates(),
        workers: await control.workers(),
        storage: control.storage() ?? null,
      });
  }
  return json(404, { errors: [`no such endpoint: ${route}`] });
}
