import type { IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import type { ErrorPages, Exchange, HeaderValue, HeadHook } from "./exchange.ts";
import { isBodiless } from "./exchange.ts";
import { nextRequestId } from "./request-id.ts";

/**
 * The Exchange over node:http. A class rather than closures: one is made per request,
 * and a stable shape keeps that cheap.
 */
export class NodeExchange implements Exchange {
  readonly method: string;
  readonly target: string;
  readonly rawPath: string;
  readonly query: string;
  readonly host: string;
  readonly httpVersion: string;
  readonly scheme: "http" | "https";
  readonly startedAt: number;
  path = "/";
  status = 200;
  errorPages: ErrorPages | undefined = undefined;
  answered = false;
  bytesSent = 0;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  #id: string | undefined;
  #headers = new Map<string, [string, HeaderValue]>();
  #hooks: HeadHook[] | undefined;
  #closeAfter: boolean;

  constructor(req: IncomingMessage, res: ServerResponse, target: string, host: string, closeAfter: boolean) {
    this.req = req;
    this.res = res;
    this.method = req.method ?? "GET";
    this.target = target;
    const q = target.indexOf("?");
    this.rawPath = q === -1 ? target : target.slice(0, q);
    this.query = q === -1 ? "" : target.slice(q);
    this.host = host;
    this.httpVersion = req.httpVersion;
    this.scheme = (req.socket as { encrypted?: boolean }).encrypted ? "https" : "http";
    this.startedAt = performance.now();
    this.#closeAfter = closeAfter;
  }

  get id(): string {
    this.#id ??= nextRequestId();
    return this.#id;
  }
  get remoteAddress(): string {
    return this.req.socket.remoteAddress ?? "";
  }
  get remotePort(): number {
    return this.req.socket.remotePort ?? 0;
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  body(): Readable {
    return this.req;
  }

  getHeader(name: string): HeaderValue | undefined {
    return this.#headers.get(name.toLowerCase())?.[1];
  }
  setHeader(name: string, value: HeaderValue): void {
    this.#headers.set(name.toLowerCase(), [name, value]);
  }
  appendHeader(name: string, value: string): void {
    const key = name.toLowerCase();
    const cur = this.#headers.get(key);
    if (!cur) this.#headers.set(key, [name, value]);
    else cur[1] = Array.isArray(cur[1]) ? [...cur[1], value] : [cur[1], value];
  }
  removeHeader(name: string): void {
    this.#headers.delete(name.toLowerCase());
  }
  onHead(hook: HeadHook): void {
    if (this.#hooks) this.#hooks.push(hook);
    else this.#hooks = [hook];
  }

  onDone(cb: (ex: Exchange) => void): void {
    this.res.once("close", () => cb(this));
  }

  #writeHead(status: number, length: number | undefined): boolean {
    this.answered = true;
    this.status = status;
    const hooks = this.#hooks;
    if (hooks) {
      this.#hooks = undefined;
      for (const h of hooks) h(this);
      status = this.status;
    }
    const flat: string[] = [];
    for (const [name, value] of this.#headers.values()) {
      if (Array.isArray(value)) for (const v of value) flat.push(name, v);
      else flat.push(name, value);
    }
    const bodiless = isBodiless(status);
    if (length !== undefined && !bodiless) flat.push("Content-Length", String(length));
    if (this.#closeAfter) this.res.shouldKeepAlive = false;
    const res = this.res;
    if (res.destroyed) return false;
    res.writeHead(status, flat);
    return !bodiless && this.method !== "HEAD";
  }

  send(status: number, body?: Buffer | string): void {
    if (this.answered) return;
    const buf = body === undefined ? undefined : typeof body === "string" ? Buffer.from(body) : body;
    const withBody = this.#writeHead(status, buf ? buf.length : isBodiless(status) ? undefined : 0);
    if (withBody && buf) {
      this.bytesSent = buf.length;
      this.res.end(buf);
    } else this.res.end();
  }

  stream(status: number, body: Readable, length?: number): void {
    if (this.answered) {
      body.destroy();
      return;
    }
    const withBody = this.#writeHead(status, length);
    const res = this.res;
    if (!withBody) {
      body.destroy();
      res.end();
      return;
    }
    const onClose = () => body.destroy();
    res.once("close", onClose);
    body.on("data", (chunk: Buffer) => {
      this.bytesSent += chunk.length;
      if (!res.write(chunk)) {
        body.pause();
        res.once("drain", () => body.resume());
      }
    });
    body.once("end", () => {
      res.off("close", onClose);
      res.end();
    });
    body.once("error", () => {
      // Headers are out: the only honest signal left is to cut the connection.
      res.destroy();
    });
  }
}
