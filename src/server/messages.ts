import type { WharfConfig } from "../config/types.ts";
import type { WorkerStats } from "./runtime.ts";

/**
 * What the primary's certificate machinery tells every worker: an ACME challenge answer
 * (or, with nulls, its withdrawal), or an on-demand certificate (nulls: refused).
 */
export type ChallengeMessage =
  | { type: "acme-http01"; token: string; keyAuthorization: string | null }
  | { type: "acme-tlsalpn01"; name: string; cert: string | null; key: string | null }
  | { type: "ondemand-cert"; name: string; cert: string | null; key: string | null };

/** What the primary tells a worker. */
export type ToWorker =
  | { type: "config"; seq: number; config: WharfConfig }
  | { type: "shutdown"; timeout: number }
  | ChallengeMessage
  | { type: "ticket-keys"; keys: string }
  | { type: "shared-reply"; id: number; value?: unknown; error?: string }
  | { type: "stats"; id: number }
  | { type: "drained"; urls: string[] }
  | { type: "reopen-logs" }
  | { type: "shared-event"; kind: string; body: unknown; ack: number };

/** What a worker tells the primary. */
export type ToPrimary =
  | { type: "up" }
  | { type: "ready"; seq: number; addresses: string[] }
  | { type: "failed"; seq: number; error: string; code?: string | undefined }
  | { type: "cert-request"; name: string }
  | { type: "shared"; id: number; kind: string; body: unknown }
  | { type: "shared-ack"; ack: number }
  | { type: "stats-reply"; id: number; stats: WorkerStats };
