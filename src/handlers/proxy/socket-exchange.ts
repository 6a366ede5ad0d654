import type { Socket } from "node:net";
import { PassThrough, type Readable } from "node:stream";
import { pump } from "../../core/pump.ts";
import { parseResponseHead } from "../../http/response-head.ts";
import { type ClientResponse, classify, type Timeouts, UpstreamError } from "../../http/upstream.ts";
import type { UpstreamAddress } from "../../http/upstream-address.ts";
import { connectUpstream } from "../../http/upstream-connect.ts";

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
): Promise<ClientResponse> {
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
    const onHeadEnd = () =>
      fail(new UpstreamError("protocol", "upstream closed before a complete response head"));
    const onHead = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let head: ReturnType<typeof parseResponseHead>;
      try {
        head = parseResponseHead(buf, mode);
      } catch (err) {
        return fail(new UpstreamError("protocol", (err as Error).message));
      }
      if (!head) return;
      source.off("data", onHead);
      source.off("end", onHeadEnd);
      resetReadTimer();
      const out = new PassThrough({ highWaterMark: 256 * 1024 });
      body = out;
      out.on("close", () => {
        if (!source.destroyed && !source.readableEnded) source.destroy();
      });
      if (head.rest.length > 0) out.write(head.rest);
      resolve({ status: head.status, headers: head.headers, body: out });
      const sink = {
        write: (data: Buffer) => {
          resetReadTimer();
          return out.write(data);
        },
        onDrain: (resume: () => void) => out.once("drain", resume),
      };
      pump(source, sink, (err) => {
        if (err) return fail(err);
        clearTimeout(timer);
        onDone();
        out.end();
      });
    };
    source.on("data", onHead);
    source.once("end", onHeadEnd);
    source.once("error", (err) => {
      if (!body) fail(err);
    });
  });
}
