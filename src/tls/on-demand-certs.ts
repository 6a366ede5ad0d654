import type { SecureContext } from "node:tls";
import { secureContextFor } from "../http/tls-policy.ts";

/**
 * A worker's side of on-demand TLS: certificates the primary obtained for names first
 * seen in a handshake. A handshake for a name without one asks the primary (once, however
 * many handshakes wait) and waits for the answer, for a bounded time.
 */

/** How long a handshake waits for a certificate to be obtained before it gets the default one. */
const WAIT_MS = 30_000;
/** How long a refused name is not asked for again. */
const DENIED_MS = 60_000;

const certs = new Map<string, SecureContext>();
const denied = new Map<string, number>();
const waiting = new Map<string, ((ctx: SecureContext | undefined) => void)[]>();
let ask: ((name: string) => void) | undefined;

/** How this worker asks the primary for a certificate (set once by the worker's entry point). */
export function setOnDemandRequester(fn: (name: string) => void): void {
  ask = fn;
}

/** The primary's answer for a name: its certificate, or nulls when there is none to be had. */
export function setOnDemandCert(name: string, cert: string | null, key: string | null): void {
  let ctx: SecureContext | undefined;
  if (cert !== null && key !== null) {
    ctx = secureContextFor(Buffer.from(cert), Buffer.from(key)).context;
    certs.set(name, ctx);
    denied.delete(name);
  } else denied.set(name, Date.now() + DENIED_MS);
  const list = waiting.get(name);
  waiting.delete(name);
  for (const resolve of list ?? []) resolve(ctx);
}

/** The certificate for `name`: at hand, or asked for and waited on; undefined when refused or late. */
export function onDemandContext(name: string): Promise<SecureContext | undefined> {
  const have = certs.get(name);
  if (have) return Promise.resolve(have);
  const until = denied.get(name);
  if (until !== undefined && until > Date.now()) return Promise.resolve(undefined);
  if (ask === undefined || !/^[a-z0-9.-]+$/.test(name) || !name.includes("."))
    return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let done = false;
    const finish = (ctx: SecureContext | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(ctx);
    };
    const timer = setTimeout(() => finish(undefined), WAIT_MS);
    timer.unref();
    const list = waiting.get(name);
    if (list) list.push(finish);
    else {
      waiting.set(name, [finish]);
      ask?.(name);
    }
  });
}
