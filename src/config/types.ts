import type { HandlerConfig } from "../handlers/index.ts";

export type { HandlerConfig };

export interface MatchConfig {
  /** Segment-aware prefixes (`/api`) or globs (`*.css`, `/assets/**`); any may match. */
  path?: string[] | undefined;
  /** Upper-case methods; any may match. */
  method?: string[] | undefined;
  /** Header name (lower-case) → glob on its value (`*` = present); all must match. */
  header?: Record<string, string> | undefined;
}

export interface RouteConfig {
  match: MatchConfig;
  handle: HandlerConfig[];
  /** Reachable only through an internal redirect (X-Accel-Redirect); from outside, 404. */
  internal: boolean;
}

export interface AccessLogConfig {
  format: "combined" | "json";
  /** `stdout`, `stderr`, or an absolute file path. */
  output: string;
}

export interface SiteConfig {
  /** Exact names and `*.example.com` wildcards; empty means this site is a default. */
  hosts: string[];
  /** Canonical listen addresses (`:8080`, `localhost:8080`, `[::1]:8080`). */
  listen: string[];
  /** Those of its addresses that expect a PROXY protocol header (behind an L4 balancer). */
  proxy_protocol: string[];
  access_log: AccessLogConfig | null;
  /** Status → absolute path of the page served for that error. */
  error_pages: Record<string, string>;
  routes: RouteConfig[];
  /** HTTPS for this site's listen addresses; null for plain HTTP. */
  tls: SiteTlsConfig | null;
}

export interface SiteTlsConfig {
  /**
   * Where the certificate comes from: files named here, an ACME CA (`tls: auto`), or
   * wharf's internal CA (`tls: internal`); for the last two the primary fills in cert and key.
   */
  source: "files" | "acme" | "internal";
  cert: string | null;
  key: string | null;
  /** Strict-Transport-Security max-age in milliseconds (sent in seconds), or null. */
  hsts: number | null;
  redirect_http: string[];
  /** CA (PEM file) whose client certificates are required (mutual TLS), or null. */
  client_ca: string | null;
  /** ACME certificates for names first seen in a handshake (approved by acme.on_demand.ask). */
  on_demand: boolean;
}

export interface LimitsConfig {
  max_uri_length: number;
  max_header_size: number;
  max_body_size: number;
  header_timeout: number;
  request_timeout: number;
  idle_timeout: number;
  max_connections: number;
}

export interface AcmeConfig {
  directory: string;
  email?: string | undefined;
  data_dir?: string | undefined;
  eab?: { kid: string; hmac_key: string } | undefined;
  /** On-demand TLS: the endpoint approving names, and the issuance rate limit. */
  on_demand?: { ask: string; burst: number; interval: number } | undefined;
  /** Challenge types answered, in order of preference. */
  challenges: ("http-01" | "tls-alpn-01")[];
  http_listen: string[];
  renewal_ratio: number;
}

export interface RedisStorageConfig {
  url: string;
  prefix: string;
  tls?: { ca?: string | undefined; insecure_skip_verify: boolean } | undefined;
}

export interface ServerConfig {
  acme: AcmeConfig;
  /** Worker processes, or "auto" for one per CPU. */
  workers: number | "auto";
  /** The HTTP/1.1 engine: wharf's own parser and writer, or node:http (the reference). */
  engine: "wharf" | "node";
  /** Cleartext HTTP/2 with prior knowledge on plain-HTTP listeners (wharf's engine). */
  h2c: boolean;
  /** Staple OCSP answers (RFC 6960) for certificates with a responder. */
  ocsp_stapling: boolean;
  log_level: "debug" | "info" | "warn" | "error";
  /**
   * The admin API: `listen` null means the default unix socket under the runtime
   * directory; null for `admin: off`.
   */
  admin: { listen: string | null; token: string | null } | null;
  /** Shared state: null for the data directory, or a Redis that several instances share. */
  storage: { redis: RedisStorageConfig } | null;
  /** Addresses and CIDRs whose word about the client (fields, PROXY headers) is believed. */
  trusted_proxies: string[];
  /** The fields the client address is read from, the first present winning. */
  client_ip_headers: ("X-Forwarded-For" | "X-Real-IP" | "Forwarded")[];
  /** Time in-flight requests get to finish on shutdown, in ms. */
  shutdown_timeout: number;
  /** Interval of TLS session-ticket key rotation, in ms. */
  ticket_key_rotation: number;
  limits: LimitsConfig;
}

/** The one canonical configuration the runtime reads: JSON-serializable, validated, normalized. */
export interface WharfConfig {
  server: ServerConfig;
  sites: SiteConfig[];
}
