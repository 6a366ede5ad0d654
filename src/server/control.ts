import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WharfConfig } from "../config/types.ts";
import type { UpstreamView } from "../handlers/index.ts";

/** A served certificate as the admin API shows it. */
export interface CertificateInfo {
  site: string;
  source: "files" | "acme" | "internal";
  names: string[];
  issuer: string;
  not_after: string;
  next_renewal: string | null;
  last_error: string | null;
}

/** A worker as the admin API shows it. */
export interface WorkerInfo {
  id: number;
  pid: number;
  uptime_s: number;
  connections: number;
  rss_bytes: number;
  /** Times this worker's slot was refilled after its process died. */
  restarts: number;
}

/** What `wharf status` shows of the shared storage. */
export interface StorageInfo {
  kind: string;
  /** Where it is, without secrets. */
  where: string;
  up: boolean;
  outages: number;
}

/**
 * What the admin API may do with a running server: the seam between `src/admin` (HTTP,
 * above) and the primary, its workers, apps and certificates (below).
 */
export interface ServerControl {
  readonly startedAt: number;
  /** The config as loaded (before apps and certificates were filled in). */
  config(): WharfConfig;
  /** Applies a validated config as a reload does; resolves with the workers' problems. */
  apply(config: WharfConfig): Promise<string[]>;
  /** Re-reads the config file; resolves with the problems (none: applied). */
  reload(): Promise<string[]>;
  /** Restarts the supervised apps blue-green (new process, ready, switch, old one drained). */
  deploy(): Promise<string[]>;
  upstreams(): Promise<UpstreamView[]>;
  drain(url: string, drained: boolean): void;
  certificates(): CertificateInfo[];
  /** The storage shared with other instances, if one is configured. */
  storage(): StorageInfo | undefined;
  purge(target: { url?: string | undefined; prefix?: string | undefined }): Promise<number>;
  workers(): Promise<WorkerInfo[]>;
  /** The Prometheus text of every worker's metrics summed, and the primary's own. */
  metrics(): Promise<string>;
}

/** The runtime directory wharf's sockets go in: $XDG_RUNTIME_DIR, /run as root, else the temp dir. */
export function runtimeDir(): string {
  if (process.env.XDG_RUNTIME_DIR) return join(process.env.XDG_RUNTIME_DIR, "wharf");
  if (process.getuid?.() === 0) return "/run/wharf";
  return join(tmpdir(), `wharf-${process.getuid?.() ?? "user"}`);
}

/**
 * The default admin socket of a server: one per config (its absolute path, or for
 * `serve`/`proxy` its command line and directory), so `wharf status --config FILE` finds
 * the one `wharf run --config FILE` opened.
 */
export function defaultAdminSocket(identity: string): string {
  return join(runtimeDir(), `admin-${createHash("sha256").update(identity).digest("hex").slice(0, 12)}.sock`);
}
