import { z } from "zod";
import {
  duration,
  fsPath,
  headerName,
  headerValue,
  type SchemaContext,
  size,
} from "../../core/schema-fields.ts";
import { parseUpstreamAddress } from "../../http/upstream-address.ts";

const upstream = z
  .union([
    z.string(),
    z.strictObject({ url: z.string(), weight: z.number().int().min(1).max(1000).default(1) }),
  ])
  .transform((v, ctx) => {
    const entry = typeof v === "string" ? { url: v, weight: 1 } : v;
    const parsed = parseUpstreamAddress(entry.url);
    if (typeof parsed === "string") {
      ctx.addIssue({ code: "custom", message: parsed });
      return z.NEVER;
    }
    return entry;
  });

const headerChanges = z
  .strictObject({
    set: z.record(headerName, headerValue).default({}),
    remove: z.array(headerName).default([]),
  })
  .prefault({});

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)(\/\d{1,3})?$/;

/** The `proxy` handler's options. */
export function proxySchema(ctx: SchemaContext) {
  return z
    .strictObject({
      /** Upstreams: http(s)://host:port, unix:/path.sock, uwsgi://, uwsgi+unix:, fastcgi://, fastcgi+unix:. */
      to: z
        .union([upstream, z.array(upstream)])
        .transform((v) => (Array.isArray(v) ? v : [v]))
        .default([]),
      /** A process wharf starts, supervises and proxies to; `{socket}` or `{port}` in its command. */
      app: z
        .strictObject({
          command: z
            .string()
            .min(1)
            .refine((c) => /\{(socket|socket_path|port)\}/.test(c), {
              message: "must contain {socket}, {socket_path} or {port}: where wharf tells the app to listen",
            }),
          cwd: fsPath(ctx, "directory").optional(),
          env: z.record(z.string(), z.string()).default({}),
          /** How the app is spoken to: http (default) or uwsgi / fastcgi on the socket or port. */
          protocol: z.enum(["http", "uwsgi", "fastcgi"]).default("http"),
          /** How long the app has to become ready. */
          start_timeout: duration.default(30_000),
          /** Ready means a GET of this path answers, with anything but a 5xx (http apps). */
          ready_path: z.string().startsWith("/").default("/"),
        })
        .optional(),
      policy: z
        .enum(["round_robin", "least_conn", "ip_hash", "first", "random", "cookie"])
        .default("round_robin"),
      /** Name of the sticky cookie for `policy: cookie`. */
      cookie_name: z
        .string()
        .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)
        .default("wharf_upstream"),
      /** Passive health: `max_fails` failures within `fail_window` mark an upstream down for `fail_timeout`. */
      max_fails: z.number().int().min(0).default(1),
      fail_window: duration.default(10_000),
      fail_timeout: duration.default(10_000),
      /** Active health checks: a GET of `path` every `interval`; `expect_status` means healthy. */
      health_check: z
        .strictObject({
          path: z.string().startsWith("/"),
          interval: duration.default(10_000),
          timeout: duration.default(5_000),
          expect_status: z.number().int().min(100).max(599).default(200),
        })
        .optional(),
      /** Attempts per request (on another upstream each time), and the time they may take together. */
      tries: z.number().int().min(1).max(20).default(3),
      try_duration: duration.default(10_000),
      timeouts: z
        .strictObject({
          connect: duration.default(5_000),
          /** From request sent to response head received. */
          header: duration.default(60_000),
          /** Longest silence while reading the response body. */
          read: duration.default(60_000),
          /** Longest silence on a tunnelled (WebSocket) connection. */
          tunnel_idle: duration.default(600_000),
        })
        .prefault({}),
      /** Send the client's Host upstream (true) or the upstream's own host (false). */
      preserve_host: z.boolean().default(true),
      /** Also send an RFC 7239 Forwarded header. */
      forwarded: z.boolean().default(false),
      /** Peers whose X-Forwarded-* and Forwarded headers are believed (addresses or CIDRs). */
      trusted_proxies: z.array(z.string().regex(CIDR, "must be an IP address or CIDR")).default([]),
      /** Removed from the start of the path before it goes upstream (segment-aware). */
      strip_prefix: z.string().startsWith("/").optional(),
      /** Put in front of the path (after stripping) before it goes upstream. */
      add_prefix: z.string().startsWith("/").optional(),
      request_headers: headerChanges,
      response_headers: headerChanges,
      /** Read the whole request body before contacting the upstream (shields sync workers from slow clients). */
      buffer_requests: z.boolean().default(false),
      /** Buffered bodies beyond this size go to a temporary file. */
      buffer_memory: size.default(1024 * 1024),
      /** Where buffered bodies beyond `buffer_memory` go (the system's temp dir by default). */
      temp_dir: fsPath(ctx, "directory").optional(),
      /** TLS to https:// upstreams. */
      tls: z
        .strictObject({
          verify: z.boolean().default(true),
          ca: fsPath(ctx, "file").optional(),
          server_name: z.string().optional(),
        })
        .prefault({}),
      /** Connections (kept alive when idle) per upstream and worker; more requests wait for one. */
      max_connections: z.number().int().min(1).default(1024),
    })
    .refine((c) => c.to.length > 0 || c.app !== undefined, {
      message: "needs `to` (upstream addresses) or `app`",
    });
}

export type ProxyConfig = z.output<ReturnType<typeof proxySchema>>;
