import { connect as netConnect, type Socket } from "node:net";
import { tlsModule } from "./tls-policy.ts";
import { classify, UpstreamError } from "./upstream.ts";
import type { UpstreamAddress } from "./upstream-address.ts";

/** How an upstream's TLS is checked (for https:// upstreams). */
export interface UpstreamTls {
  verify: boolean;
  ca?: Buffer | undefined;
  /** The name for SNI and the certificate check; by default the upstream's host name. */
  serverName?: string | undefined;
}

/**
 * Opens a connection to an upstream: a unix socket, TCP, or TLS when the address says so,
 * within `timeout` ms. Rejects with an UpstreamError: "connect" for what kept it from
 * connecting (refused, unreachable, timed out, a certificate it does not trust),
 * "protocol" when `signal` says the client went away first.
 */
export function connectUpstream(
  addr: UpstreamAddress,
  timeout: number,
  tls: UpstreamTls | undefined,
  signal?: AbortSignal,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket: Socket = addr.socketPath
      ? netConnect({ path: addr.socketPath })
      : addr.tls
        ? tlsModule().connect({
            host: addr.host!,
            port: addr.port!,
            rejectUnauthorized: tls?.verify ?? true,
            ...(tls?.ca ? { ca: tls.ca } : {}),
            ...(tls?.serverName ? { servername: tls.serverName } : {}),
          })
        : netConnect({ host: addr.host!, port: addr.port! });
    let settled = false;
    const done = (err?: UpstreamError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        socket.setNoDelay(true);
        resolve(socket);
      }
    };
    const timer = setTimeout(
      () => done(new UpstreamError("connect", `connect timeout after ${timeout} ms`)),
      timeout,
    );
    const onAbort = () => done(new UpstreamError("protocol", "the client went away"));
    const onError = (err: Error) => done(classify(err));
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(addr.tls ? "secureConnect" : "connect", () => done());
  });
}
