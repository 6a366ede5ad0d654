import type { WharfConfig } from "../config/types.ts";

/** What the primary tells a worker. */
export type ToWorker =
  | { type: "config"; seq: number; config: WharfConfig }
  | { type: "shutdown"; timeout: number }
  | { type: "acme-http01"; token: string; keyAuthorization: string | null }
  | { type: "ticket-keys"; keys: string };

/** What a worker tells the primary. */
export type ToPrimary =
  | { type: "ready"; seq: number; addresses: string[] }
  | { type: "failed"; seq: number; error: string; code?: string | undefined };
