/** Protocol limits and timeouts every engine enforces (normalized: bytes and milliseconds). */
export interface HttpLimits {
  /** Longest request-target accepted; longer gets 414. */
  maxUriLength: number;
  /** Largest total of header field lines; larger gets 431. */
  maxHeaderSize: number;
  /** Largest request body; larger gets 413. */
  maxBodySize: number;
  /** Time allowed to receive a complete request head. */
  headerTimeout: number;
  /** Time allowed for a whole request (head and body). */
  requestTimeout: number;
  /** Time an idle keep-alive connection is kept open. */
  idleTimeout: number;
  /** Open connections per worker; more are refused. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: HttpLimits = {
  maxUriLength: 8192,
  maxHeaderSize: 16384,
  maxBodySize: 10 * 1024 * 1024,
  headerTimeout: 10_000,
  requestTimeout: 60_000,
  idleTimeout: 75_000,
  maxConnections: 10_000,
};
