import { closeSync, openSync, write } from "node:fs";
import type { AccessLogConfig } from "../config/types.ts";
import type { Exchange } from "../http/exchange.ts";

/** Writes lines to stdout, stderr or a file, batching them so a busy server makes few writes. */
export interface LineWriter {
  write(line: string): void;
  /** Opens the file again (after logrotate moved it): lines before go to the old file, none lost. */
  reopen(): void;
  close(): void;
}

function batching(flush: (text: string) => void): { write(line: string): void; drain(): void } {
  let pending = "";
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    if (pending === "") return;
    const text = pending;
    pending = "";
    flush(text);
  };
  return {
    write(line) {
      pending += line;
      if (pending.length > 65536) drain();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(drain);
      }
    },
    drain,
  };
}

/** A writer for an access log output: `stdout`, `stderr`, or a file opened for appending. */
export function openLineWriter(output: string): LineWriter {
  if (output === "stdout" || output === "stderr") {
    const stream = output === "stdout" ? process.stdout : process.stderr;
    const b = batching((text) => stream.write(text));
    return { write: b.write, reopen: b.drain, close: b.drain };
  }
  let fd = openSync(output, "a", 0o644);
  let chain = Promise.resolve();
  // O_APPEND keeps lines from several workers whole; the chain keeps this worker's in order.
  const b = batching((text) => {
    chain = chain.then(
      () =>
        new Promise<void>((done) => {
          write(fd, text, () => done());
        }),
    );
  });
  return {
    write: b.write,
    reopen() {
      b.drain();
      chain = chain.then(() => {
        const old = fd;
        fd = openSync(output, "a", 0o644);
        closeSync(old);
      });
    },
    close() {
      b.drain();
      void chain.then(() => closeSync(fd));
    },
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let clfSecond = -1;
let clfText = "";

/** `10/Oct/2000:13:55:36 +0000`, computed once a second. */
function clfTime(now: number): string {
  const sec = Math.floor(now / 1000);
  if (sec !== clfSecond) {
    const d = new Date(sec * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    clfText = `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
    clfSecond = sec;
  }
  return clfText;
}

function quoted(v: string | undefined): string {
  return v === undefined ? "-" : v.replace(/["\\]/g, "\\$&").replace(/[\x00-\x1f\x7f]/g, "");
}

/** Formats one access-log line for an exchange that is over. */
export function formatAccessLine(
  format: AccessLogConfig["format"],
  ex: Exchange,
  now: number,
  site: string,
): string {
  if (format === "json") {
    return `${JSON.stringify({
      time: new Date(now).toISOString(),
      site,
      remote: ex.clientIp,
      method: ex.method,
      host: ex.host,
      uri: ex.target,
      proto: `HTTP/${ex.httpVersion}`,
      status: ex.status,
      bytes: ex.bytesSent,
      duration_ms: Math.round((performance.now() - ex.startedAt) * 1000) / 1000,
      referer: ex.header("referer"),
      user_agent: ex.header("user-agent"),
      request_id: ex.id,
    })}\n`;
  }
  return (
    `${ex.clientIp} - - [${clfTime(now)}] "${quoted(`${ex.method} ${ex.target} HTTP/${ex.httpVersion}`)}" ` +
    `${ex.status} ${ex.bytesSent} "${quoted(ex.header("referer"))}" "${quoted(ex.header("user-agent"))}"\n`
  );
}
