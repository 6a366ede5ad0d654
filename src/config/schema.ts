import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import {
  cidr,
  duration,
  fsPath,
  headerName,
  type SchemaContext,
  size,
  stringList,
} from "../core/schema-fields.ts";
import { buildHandlerSchemas, HANDLER_NAMES } from "../handlers/index.ts";
import type { SchemaBuilder } from "../handlers/record.ts";
import { configKeys, type KeyMap } from "./key-hints.ts";
import { formatListenAddress, parseListenAddress } from "./listen-address.ts";
import type { HandlerConfig, SiteConfig, WharfConfig } from "./types.ts";

const HOST_RE =
  /^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;

const listenAddress = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const a = parseListenAddress(String(v));
  if (!a) {
    ctx.addIssue({
      code: "custom",
      message: `must be an address such as ":8080", "localhost:8080" or "[::1]:443"`,
    });
    return z.NEVER;
  }
  return formatListenAddress(a);
});

const host = z
  .string()
  .transform((h) => h.toLowerCase())
  .refine((h) => HOST_RE.test(h), { message: "must be a host name, a *.wildcard or an IP address" });

const limits = z
  .strictObject({
    max_uri_length: size.default(8192),
    max_header_size: size.default(16 * 1024),
    max_body_size: size.default(10 * 1024 * 1024),
    header_timeout: duration.default(10_000),
    request_timeout: duration.default(60_000),
    idle_timeout: duration.default(75_000),
    max_connections: z.number().int().positive().default(10_000),
  })
  .prefault({});

const acme = (ctx: SchemaContext) =>
  z
    .strictObject({
      /** The ACME directory (RFC 8555): Let's Encrypt by default, or staging, or any ACME CA. */
      directory: z.string().url().default("https://acme-v02.api.letsencrypt.org/directory"),
      email: z.string().email().optional(),
      /** Where account keys and certificates are kept (default: $XDG_DATA_HOME/wharf). */
      data_dir: z
        .string()
        .min(1)
        .transform((d) => resolve(ctx.baseDir, d))
        .optional(),
      /** External Account Binding, for CAs that require it. */
      eab: z.strictObject({ kid: z.string().min(1), hmac_key: z.string().min(1) }).optional(),
      /** Challenge types wharf answers, in order of preference (the first the CA offers is used). */
      challenges: z
        .array(z.enum(["http-01", "tls-alpn-01"]))
        .min(1)
        .refine((l) => new Set(l).size === l.length, { message: "must not repeat a challenge type" })
        .default(["http-01", "tls-alpn-01"]),
      /**
       * On-demand TLS: certificates obtained at the first handshake for a name, when `ask`
       * (GET ask?domain=NAME) answers 2xx; at most `burst` new ones per `interval`.
       */
      on_demand: z
        .strictObject({
          ask: z.string().url(),
          burst: z.number().int().positive().default(5),
          interval: duration.default(60_000),
        })
        .optional(),
      /** Plain-HTTP addresses that answer HTTP-01 challenges and redirect to https. */
      http_listen: z.array(listenAddress).min(1).default([":80"]),
      /** How far into a certificate's lifetime it is renewed. */
      renewal_ratio: z
        .number()
        .gt(0)
        .lt(1)
        .default(2 / 3),
    })
    .prefault({});

const server = (ctx: SchemaContext) =>
  z
    .strictObject({
      acme: acme(ctx),
      workers: z.union([z.literal("auto"), z.number().int().min(1).max(256)]).default("auto"),
      /** The HTTP/1.1 engine: wharf's own (default), or node:http. */
      engine: z.enum(["wharf", "node"]).default("wharf"),
      /** HTTP/2 without TLS for clients that start with its preface (prior knowledge, RFC 9113 §3.3). */
      h2c: z.boolean().default(false),
      /** Staple OCSP answers for certificates whose issuer names a responder. */
      ocsp_stapling: z.boolean().default(true),
      log_level: z.enum(["debug", "info", "warn", "error"]).default("info"),
      shutdown_timeout: duration.default(10_000),
      /**
       * Peers whose word about the client is believed: the client address is read from
       * `client_ip_headers` (right to left, past trusted hops) or a PROXY protocol header
       * only when the request comes from one of these.
       */
      trusted_proxies: z.array(cidr).default([]),
      /**
       * The admin API (JSON, /metrics, the dashboard): a unix socket (mode 0600) under the
       * runtime directory by default; `listen: "127.0.0.1:2019"` for TCP (loopback only
       * unless a `token` is set, which then every request must send as a Bearer token);
       * `admin: off` turns it off.
       */
      admin: z
        .union([
          z.literal(false),
          z.literal("off"),
          z.null(),
          z.strictObject({
            listen: z
              .string()
              .refine((v) => v.startsWith("unix:/") || parseListenAddress(v) !== undefined, {
                message: 'must be "unix:/path.sock" or an address such as "127.0.0.1:2019"',
              })
              .nullish(),
            token: z.string().min(16, "must be at least 16 characters").nullish(),
          }),
        ])
        .default({})
        .transform((v) =>
          v === false || v === "off" || v === null
            ? null
            : {
                listen:
                  v.listen == null || v.listen.startsWith("unix:")
                    ? (v.listen ?? null)
                    : formatListenAddress(parseListenAddress(v.listen)!),
                token: v.token ?? null,
              },
        )
        .refine(
          (v) => {
            if (v === null || v.listen === null || v.listen.startsWith("unix:") || v.token !== null)
              return true;
            const host = parseListenAddress(v.listen)?.host ?? "";
            return host === "localhost" || host === "::1" || host.startsWith("127.");
          },
          { message: "an admin address off loopback needs a token" },
        ),
      /**
       * Where certificates, ACME accounts, locks, challenge answers, ticket keys and
       * rate-limit counters are kept: the data directory (default), or one Redis shared by
       * several instances: `storage: { redis: { url: "redis://127.0.0.1:6379/0" } }`.
       */
      storage: z
        .union([
          z.literal("file"),
          z.null(),
          z.strictObject({
            redis: z.strictObject({
              url: z
                .string()
                .url()
                .refine((u) => /^rediss?:\/\//.test(u), {
                  message: 'must start with "redis://" or "rediss://"',
                }),
              /** Prepended to every key: several deployments can share one Redis. */
              prefix: z.string().default("wharf"),
              tls: z
                .strictObject({
                  ca: z
                    .string()
                    .min(1)
                    .transform((f) => resolve(ctx.baseDir, f))
                    .optional(),
                  insecure_skip_verify: z.boolean().default(false),
                })
                .optional(),
            }),
          }),
        ])
        .default(null)
        .transform((v) => (v === "file" ? null : v)),
      /** The fields the client address is read from, the first present winning. */
      client_ip_headers: z
        .array(z.enum(["X-Forwarded-For", "X-Real-IP", "Forwarded"]))
        .default(["X-Forwarded-For", "X-Real-IP", "Forwarded"]),
      /** How often the TLS session-ticket keys (shared by all workers) are replaced. */
      ticket_key_rotation: duration.default(12 * 3_600_000),
      limits,
    })
    .prefault({});

const match = z
  .strictObject({
    path: stringList.optional(),
    method: stringList.transform((l) => l.map((m) => m.toUpperCase())).optional(),
    header: z
      .record(headerName, z.string())
      .transform((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), v])))
      .optional(),
  })
  .prefault({});

type Schemas = Record<string, z.ZodType>;

function handlerItem(schemas: Schemas) {
  const names = [...HANDLER_NAMES].join(", ");
  return z.record(z.string(), z.unknown()).transform((item, c) => {
    const keys = Object.keys(item);
    if (keys.length !== 1 || !HANDLER_NAMES.has(keys[0]!)) {
      const unknown = keys.find((k) => !HANDLER_NAMES.has(k));
      c.addIssue({
        code: "custom",
        message:
          unknown !== undefined
            ? `unknown handler "${unknown}" (one of: ${names})`
            : `must name exactly one handler (one of: ${names})`,
        ...(unknown !== undefined ? { path: [unknown] } : {}),
      });
      return z.NEVER;
    }
    const key = keys[0]!;
    // Only the handlers a config uses have their schema loaded ({@link handlerNamesIn}).
    const schema = schemas[key];
    if (schema === undefined) throw new Error(`the schema of the ${key} handler was not loaded`);
    const r = schema.safeParse(item[key] ?? {});
    if (!r.success) {
      for (const issue of r.error.issues) c.addIssue({ ...issue, path: [key, ...issue.path] } as never);
      return z.NEVER;
    }
    return { [key]: r.data } as HandlerConfig;
  });
}

/** The keys a route holds besides its handlers. */
const ROUTE_KEYS = new Set(["match", "handle", "internal"]);

function route(schemas: Schemas) {
  // A route is `{match?, handle: [...]}`, or `{match?, <handler>: {...}, …}`: the handlers
  // written as keys make its chain, in the order written. Other keys are left for the
  // strict object to report (with a hint where they belong).
  return z.preprocess(
    (raw) => {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw) || "handle" in raw) return raw;
      const handle: Record<string, unknown>[] = [];
      const rest: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (!ROUTE_KEYS.has(k) && HANDLER_NAMES.has(k)) handle.push({ [k]: v });
        else rest[k] = v;
      }
      return handle.length > 0 ? { ...rest, handle } : raw;
    },
    z.strictObject({
      match,
      handle: z.array(handlerItem(schemas)).min(1),
      internal: z.boolean().default(false),
    }),
  );
}

const accessLog = (ctx: SchemaContext) =>
  z
    .union([
      z.literal(false),
      z.literal("off"),
      z.null(),
      z.strictObject({
        format: z.enum(["combined", "json"]).default("combined"),
        // stdout, stderr, or a file (relative to the config's directory)
        output: z
          .string()
          .min(1)
          .default("stdout")
          .transform((o) => (o === "stdout" || o === "stderr" ? o : resolve(ctx.baseDir, o))),
      }),
    ])
    .transform((v) => (v === false || v === "off" || v === null ? null : v));

const hsts = z
  .union([z.literal(false), z.null(), duration])
  .default(false)
  .transform((v) => (v === false ? null : v));

/** The canonical TLS block of a site whose certificate the primary provides. */
function managedTls(source: "acme" | "internal", onDemand = false) {
  return {
    source,
    cert: null,
    key: null,
    hsts: null,
    redirect_http: [] as string[],
    client_ca: null,
    on_demand: onDemand,
  };
}

function siteTls(ctx: SchemaContext) {
  return z
    .union([
      // Certificates obtained and renewed automatically (ACME), or from wharf's own CA.
      z.literal("auto").transform(() => managedTls("acme")),
      z.literal("internal").transform(() => managedTls("internal")),
      // Certificates obtained at the first handshake for names the ask endpoint approves.
      z.literal("on_demand").transform(() => managedTls("acme", true)),
      z
        .strictObject({
          source: z.enum(["acme", "internal"]),
          // The canonical form has them (null): it validates as itself.
          cert: z.null().optional(),
          key: z.null().optional(),
          on_demand: z.boolean().default(false),
          client_ca: fsPath(ctx, "file").nullable().default(null),
          hsts,
          /** Plain-HTTP addresses for redirects (default: server.acme.http_listen). */
          redirect_http: z.array(listenAddress).default([]),
        })
        .transform((t) => ({ ...t, cert: null, key: null })),
      z
        .strictObject({
          source: z.literal("files").optional(),
          on_demand: z.literal(false).optional(),
          /** PEM certificate chain and private key. */
          cert: fsPath(ctx, "file"),
          key: fsPath(ctx, "file"),
          /** Strict-Transport-Security max-age, or false for none. */
          hsts,
          /** Plain-HTTP addresses where requests for this site's hosts get a 308 to https. */
          redirect_http: z.array(listenAddress).default([]),
          /** Require client certificates signed by this CA (PEM) — mutual TLS. */
          client_ca: fsPath(ctx, "file").nullable().default(null),
        })
        .transform((t) => ({ ...t, source: "files" as const, on_demand: false })),
      z.null(),
    ])
    .optional()
    .transform((v) => v ?? null);
}

/** A listen entry: an address, or `{ address, proxy_protocol }` for one behind an L4 balancer. */
const listenEntry = z.union([
  listenAddress.transform((address) => ({ address, proxy_protocol: false })),
  z.strictObject({ address: listenAddress, proxy_protocol: z.boolean().default(false) }),
]);

function site(ctx: SchemaContext, schemas: Schemas) {
  return z
    .strictObject({
      hosts: z.array(host).default([]),
      listen: z.array(listenEntry).min(1).prefault([":8080"]),
      access_log: accessLog(ctx).default({ format: "combined", output: "stdout" }),
      error_pages: z
        .record(z.string().regex(/^[45]\d\d$/, "must be a 4xx or 5xx status"), fsPath(ctx, "file"))
        .default({}),
      routes: z.array(route(schemas)).default([]),
      tls: siteTls(ctx),
      /** The canonical form of `listen` entries with `proxy_protocol: true`. */
      proxy_protocol: z.array(listenAddress).default([]),
    })
    .transform((site) => ({
      ...site,
      listen: site.listen.map((l) => l.address),
      proxy_protocol: site.listen
        .filter((l) => l.proxy_protocol || site.proxy_protocol.includes(l.address))
        .map((l) => l.address),
    }));
}

/**
 * The schema of a whole configuration; relative paths resolve against `ctx.baseDir`.
 * `handlers` are the handlers' schema builders ({@link loadHandlerSchemas}).
 */
export function configSchema(ctx: SchemaContext, handlers: Map<string, SchemaBuilder<unknown>>) {
  const schemas = buildHandlerSchemas(handlers, ctx);
  return z
    .strictObject({ server: server(ctx), sites: z.array(site(ctx, schemas)).min(1) })
    .superRefine((c, issue) => {
      c.sites.forEach((s, i) => {
        if (s.tls?.source !== "acme") return;
        if (s.tls.on_demand) {
          if (!c.server.acme.on_demand)
            issue.addIssue({
              code: "custom",
              path: ["sites", i, "tls"],
              message: "tls: on_demand needs server.acme.on_demand.ask, the endpoint that approves names",
            });
          return;
        }
        if (s.hosts.length === 0)
          issue.addIssue({
            code: "custom",
            path: ["sites", i, "tls"],
            message: "tls: auto needs hosts: the names to get certificates for",
          });
        for (const [j, h] of s.hosts.entries()) {
          if (h.startsWith("*.") || /^[\d.]+$|^\[/.test(h) || !h.includes(".")) {
            issue.addIssue({
              code: "custom",
              path: ["sites", i, "hosts", j],
              message: "tls: auto needs domain names (no wildcards, IP addresses or single labels)",
            });
          }
        }
      });
      const proxied = new Map<string, boolean>();
      c.sites.forEach((s, i) => {
        for (const [j, addr] of s.listen.entries()) {
          const on = s.proxy_protocol.includes(addr);
          const seen = proxied.get(addr);
          if (seen !== undefined && seen !== on)
            issue.addIssue({
              code: "custom",
              path: ["sites", i, "listen", j],
              message: `${addr} is used both with and without proxy_protocol`,
            });
          proxied.set(addr, on);
          if (on && c.server.trusted_proxies.length === 0)
            issue.addIssue({
              code: "custom",
              path: ["sites", i, "listen", j],
              message:
                "proxy_protocol needs server.trusted_proxies: the balancers whose PROXY header is believed",
            });
        }
      });
      const tlsAt = new Map<string, boolean>();
      c.sites.forEach((s, i) => {
        for (const [j, addr] of s.listen.entries()) {
          const seen = tlsAt.get(addr);
          if (seen !== undefined && seen !== (s.tls !== null)) {
            issue.addIssue({
              code: "custom",
              path: ["sites", i, "listen", j],
              message: `${addr} is used both with and without TLS`,
            });
          }
          tlsAt.set(addr, s.tls !== null);
        }
      });
    })
    .transform(addHttpsRedirects);
}

/**
 * Automatic HTTPS redirects as a config transformation (as Caddy does): each TLS site with
 * `redirect_http` addresses gets a plain-HTTP twin there that answers 308 to https.
 */
function addHttpsRedirects<T extends { sites: SiteConfig[]; server: { acme: { http_listen: string[] } } }>(
  c: T,
): T {
  const extra: SiteConfig[] = [];
  for (const s of c.sites) {
    if (s.tls?.source === "acme" && s.tls.redirect_http.length === 0)
      s.tls.redirect_http = c.server.acme.http_listen;
    if (!s.tls || s.tls.redirect_http.length === 0) continue;
    const port = parseListenAddress(s.listen[0]!)?.port ?? 443;
    // A canonical config validated again already has its twin.
    const listen = s.tls.redirect_http;
    if (
      c.sites.some(
        (o) =>
          o.tls === null &&
          isDeepStrictEqual(o.listen, listen) &&
          isDeepStrictEqual(o.hosts, s.hosts) &&
          o.routes.length === 1 &&
          "redirect" in (o.routes[0]!.handle[0] ?? {}),
      )
    )
      continue;
    extra.push({
      hosts: s.hosts,
      listen: s.tls.redirect_http,
      proxy_protocol: [],
      access_log: s.access_log,
      error_pages: {},
      routes: [
        {
          match: {},
          handle: [{ redirect: { to: `https://{host}${port === 443 ? "" : `:${port}`}{uri}`, status: 308 } }],
          internal: false,
        },
      ],
      tls: null,
    });
  }
  return extra.length === 0 ? c : { ...c, sites: [...c.sites, ...extra] };
}

/** Every key a config may hold, by where (for hints about unknown keys). */
export function configKeyMap(ctx: SchemaContext, handlers: Map<string, SchemaBuilder<unknown>>): KeyMap {
  return configKeys(configSchema(ctx, handlers), buildHandlerSchemas(handlers, ctx));
}

// The schema's output must be the canonical type; this line stops them drifting apart.
export type SchemaOutput = z.output<ReturnType<typeof configSchema>>;
const _check: (o: SchemaOutput) => WharfConfig = (o) => o;
void _check;
