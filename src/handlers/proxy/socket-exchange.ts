import type { Socket } from "node:net";
import { PassThrough, type Readable } from "node:stream";
import type { UpstreamAddress } from "./address.ts";
import { connectUpstream } from "./connect.ts";
import { parseResponseHead } from "./response-head.ts";
import { classify, type Timeouts, UpstreamError, type UpstreamResponse } from "./transport.ts";

/** Opens a TCP or unix-socket connection within the connect timeout. */
export function openSocket(addr: UpstreamAddress, timeouts: Timeouts, signal: AbortSignal): Promise<Socket> {
  return connectUpstream(addr, timeouts.connect, undefined, signal);
}

/**
 * Reads a response from a connection that carries one response and then closes (uwsgi),
 * or from a decoded stream of response bytes (FastCGI's STDOUT): the head is parsed, the
 * rest flows into the body stream until `end`.
 */
export function readResponse(
  source: Readable,
  mode: "http" | "cgi",
  timeouts: Timeouts,
  onDone: () => void,
): Promise<UpstreamResponse> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    let body: PassThrough | undefined;
    let timer = setTimeout(
      () => fail(new UpstreamError("timeout", `no response head within ${timeouts.header} ms`)),
      timeouts.header,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      source.destroy();
      onDone();
      if (body) body.destroy(err);
      else reject(err instanceof UpstreamError ? err : classify(err));
    };
    const resetReadTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => fail(new UpstreamError("timeout", `upstream silent for ${timeouts.read} ms`)),
        timeouts.read,
      );
    };
    source.on("data", (chunk: Buffer) => {
      if (body) {
        resetReadTimer();
        if (!body.write(chunk)) {
          source.pause();
          body.once("drain", () => source.resume());
        }
        return;
      }
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let head: ReturnType<typeof parseResponseHead>;
      try {
        head = parseResponseHead(buf, mode);
      } catch (err) {
        return fail(new UpstreamError("protocol", (err as Error).message));
      }
      if (!head) return;
      resetReadTimer();
      body = new PassThrough({ highWaterMark: 256 * 1024 });
      body.on("close", () => {
        if (!source.destroyed && !source.readableEnded) source.destroy();
      });
      if (head.rest.length > 0) body.write(head.rest);
      resolve({ status: head.status, headers: head.headers, body });
    });
    source.once("end", () => {
      clearTimeout(timer);
      onDone();
      if (body) body.end();
      else reject(new UpstreamError("protocol", "upstream closed before a complete response head"));
    });
    source.once("error", (err) => fail(err));
  });
}
