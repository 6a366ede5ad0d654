import { z } from "zod";
import {
  cidr,
  duration,
  fsPath,
  headerName,
  headerValue,
  type SchemaContext,
  size,
} from "../../core/schema-fields.ts";
import { parseUpstreamAddress } from "../../http/upstream-address.ts";
import { staticSchema } from "../static/schema.ts";

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
          /** How long a stopping app has to finish what it is answering before SIGKILL. */
          stop_timeout: duration.default(30_000),
          /** Paths of the app's code: a change there starts a deploy (blue-green). */
          watch: z.array(fsPath(ctx)).default([]),
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
      trusted_proxies: z.array(cidr).default([]),
      /** Removed from the start of the path before it goes upstream (segment-aware). */
      strip_prefix: z.string().startsWith("/").optional(),
      /** Put in front of the path (after stripping) before it goes upstream. */
      add_prefix: z.string().startsWith("/").optional(),
      request_headers: headerChanges,
      response_headers: headerChanges,
      /**
       * Read the whole request body before contacting the upstream, which then gets it at
       * full speed with a Content-Length (nginx's proxy_request_buffering): a slow client
       * never holds one of the app's workers. Off: the body streams as it comes.
       */
      buffer_requests: z.boolean().default(true),
      /**
       * Read the upstream's response as fast as it sends it; what the client cannot take yet
       * waits in memory, then in a temporary file, so the app's worker is free as soon as it
       * has answered (nginx's proxy_buffering, without delaying what the client can take
       * now). An app's `X-Accel-Buffering: no` turns it off for one response.
       */
      buffer_responses: z.boolean().default(true),
      /** Bytes of a buffered body (either way) held in memory before the rest goes to a temporary file. */
      buffer_memory: size.default(1024 * 1024),
      /** A buffered response's temporary file at most; past it, the upstream is read at the client's pace. */
      max_temp_file_size: size.default(1024 * 1024 * 1024),
      /** Where buffered bodies go past `buffer_memory` (the system's temp dir by default). */
      temp_dir: fsPath(ctx, "directory").optional(),
      /** An RFC 9111 shared cache in front of the upstreams (off unless given). */
      cache: z
        .strictObject({
          /** Memory for stored responses (least recently used go first), shared by the workers. */
          size: size.default(256 * 1024 * 1024),
          /** The largest response stored. */
          max_entry_size: size.default(8 * 1024 * 1024),
          /** Freshness for 200/301/404 responses that state none (micro-caching); 0 for none. */
          default_ttl: duration.default(0),
          /** Serve a stale response while it is refreshed in the background, this long past its freshness. */
          stale_while_revalidate: duration.default(0),
          /** Serve a stale response when the upstream fails or answers 5xx, this long past its freshness. */
          stale_if_error: duration.default(0),
          /** How long a request waits for another's fetch of the same response before going itself. */
          lock_timeout: duration.default(5_000),
          /** Requests with one of these cookies or fields go to the upstream, past the cache. */
          bypass: z
            .strictObject({
              cookies: z.array(z.string().min(1)).default([]),
              headers: z.array(headerName).default([]),
            })
            .prefault({}),
          /** The cache's name (for purges); by default derived from the upstreams. */
          zone: z.string().min(1).optional(),
          /**
           * With `server.storage` on Redis: stored responses go there too, so every instance
           * serves what one fetched, and purges reach every instance within a second.
           */
          shared: z.boolean().default(false),
        })
        .optional(),
      /** Replace the bodies of upstream 5xx answers with the site's error pages, keeping the status. */
      intercept_errors: z.boolean().default(false),
      /**
       * Directories an app's `X-Sendfile: /abs/path` may name (Flask's USE_X_SENDFILE); none
       * by default. Each is served as a `static` root with its defaults.
       */
      sendfile_roots: z
        .array(fsPath(ctx, "directory"))
        .default([])
        .transform((roots) => roots.map((root) => staticSchema(ctx).parse({ root }))),
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
