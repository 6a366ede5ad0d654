import type { Socket } from "node:net";
import type { Exchange } from "../../http/exchange.ts";
import { parseResponseHead } from "../../http/response-head.ts";
import { UpstreamError } from "../../http/upstream.ts";
import type { UpstreamAddress } from "../../http/upstream-address.ts";
import { connectUpstream, type UpstreamTls } from "../../http/upstream-connect.ts";

export interface TunnelOptions {
  connectTimeout: number;
  headerTimeout: number;
  idleTimeout: number;
  tls: UpstreamTls;
}

/**
 * Proxies a protocol switch (WebSocket or any `Upgrade`): sends the request head upstream;
 * if the upstream agrees (101), the client's connection is taken over and bytes flow both
 * ways until either side closes or the tunnel is idle too long. Otherwise the upstream's
 * answer is relayed and the connection closed.
 */
export function tunnel(
  ex: Exchange,
  addr: UpstreamAddress,
  path: string,
  headers: [string, string][],
  opts: TunnelOptions,
): Promise<void> {
  return connectUpstream(addr, opts.connectTimeout, opts.tls).then((upstream) =>
    relay(ex, upstream, path, headers, opts),
  );
}

/** Sends the upgrade request on a fresh connection and relays the answer (and, after a 101, the tunnel). */
function relay(
  ex: Exchange,
  upstream: Socket,
  path: string,
  headers: [string, string][],
  opts: TunnelOptions,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () => fail(new UpstreamError("timeout", "no upgrade answer")),
      opts.headerTimeout,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      upstream.destroy();
      if (!settled) {
        settled = true;
        reject(
          err instanceof UpstreamError ? err : new UpstreamError("protocol", err.message, { cause: err }),
        );
      }
    };
    upstream.once("error", fail);
    let head = `${ex.method} ${path} HTTP/1.1\r\n`;
    for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
    head += `Connection: Upgrade\r\nUpgrade: ${ex.header("upgrade") ?? ""}\r\n\r\n`;
    upstream.write(head);
    let buf: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let parsed: ReturnType<typeof parseResponseHead>;
      try {
        parsed = parseResponseHead(buf, "http");
      } catch (err) {
        return fail(new UpstreamError("protocol", (err as Error).message));
      }
      if (!parsed) return;
      clearTimeout(timer);
      upstream.off("data", onData);
      upstream.off("error", fail);
      settled = true;
      ex.status = parsed.status;
      const { socket: client, head: clientHead } = ex.takeOver();
      // Relay the upstream's answer as it sent it: a 101 opens the tunnel, anything else ends it.
      client.write(buf);
      if (parsed.status !== 101) {
        upstream.pipe(client);
        upstream.on("error", () => client.destroy());
        client.on("error", () => upstream.destroy());
        upstream.on("close", () => client.end());
        return resolve();
      }
      if (clientHead.length > 0) upstream.write(clientHead);
      upstream.setTimeout(opts.idleTimeout, () => {
        upstream.destroy();
        client.destroy();
      });
      upstream.pipe(client);
      client.pipe(upstream);
      const close = () => {
        upstream.destroy();
        client.destroy();
      };
      upstream.on("error", close);
      client.on("error", close);
      // A tunnel lives as long as both ends: when one closes, the other is closed too. When
      // one only half-closes (its FIN was passed on by pipe), the other gets a moment to
      // finish, then both go: a half-open peer would otherwise hold the worker forever.
      upstream.on("close", () => client.destroy());
      client.on("close", () => upstream.destroy());
      let lingering = false;
      const onEnd = () => {
        if (lingering) return;
        lingering = true;
        setTimeout(close, 2000).unref();
      };
      upstream.once("end", onEnd);
      client.once("end", onEnd);
      resolve();
    };
    upstream.on("data", onData);
  });
}
