import type { WharfConfig } from "../config/types.ts";

/** An ACME challenge answer for every worker (or, with nulls, its withdrawal). */
export type ChallengeMessage =
  | { type: "acme-http01"; token: string; keyAuthorization: string | null }
  | { type: "acme-tlsalpn01"; name: string; cert: string | null; key: string | null };

/** What the primary tells a worker. */
export type ToWorker =
  | { type: "config"; seq: number; config: WharfConfig }
  | { type: "shutdown"; timeout: number }
  | ChallengeMessage
  | { type: "ticket-keys"; keys: string };

/** What a worker tells the primary. */
export type ToPrimary =
  | { type: "ready"; seq: number; addresses: string[] }
  | { type: "failed"; seq: number; error: string; code?: string | undefined };
