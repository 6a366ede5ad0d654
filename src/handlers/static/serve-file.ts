import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { evaluatePreconditions, ifRangeAllows } from "../../http/conditional.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import { type ByteRange, parseRange } from "../../http/range.ts";
import type { FileEntry, Representation } from "./file-entry.ts";
import { applyFields, type RepFields } from "./rep-fields.ts";

const STREAM_CHUNK = 1024 * 1024;

/**
 * Answers a GET or HEAD for one representation of a file: preconditions (304/412), ranges
 * (206, multipart, 416), or the whole body. `rep.size` < 0 means a body of unknown length
 * (compressed while streaming), which is never served in ranges. A 304 and a whole body
 * in memory go out with the prepared fields; the rest is built field by field.
 */
export function serveRepresentation(
  ex: Exchange,
  entry: FileEntry,
  rep: Representation,
  fields: RepFields,
  body: () => Readable | undefined,
): void {
  const rangeable = rep.size >= 0;
  const pre = evaluatePreconditions(
    {
      ifMatch: ex.header("if-match"),
      ifNoneMatch: ex.header("if-none-match"),
      ifModifiedSince: ex.header("if-modified-since"),
      ifUnmodifiedSince: ex.header("if-unmodified-since"),
    },
    { etag: rep.etag, mtimeSec: entry.mtimeSec },
    true,
  );
  // A 304 carries the validators and caching policy, not the representation's metadata.
  if (pre === 304) return ex.sendPrepared(304, fields.notModified, undefined);
  if (pre === 412) return sendError(ex, 412);

  const rangeHeader = rangeable && ex.method === "GET" ? ex.header("range") : undefined;
  if (rangeHeader === undefined && fields.body !== undefined)
    return ex.sendPrepared(200, fields.ok, fields.body);
  applyFields(ex, fields.ok);
  if (rangeHeader !== undefined) {
    const ifRange = ex.header("if-range");
    if (ifRange === undefined || ifRangeAllows(ifRange, { etag: rep.etag, mtimeSec: entry.mtimeSec })) {
      const r = parseRange(rangeHeader, rep.size);
      if (r.kind === "unsatisfiable") {
        ex.setHeader("Content-Range", `bytes */${rep.size}`);
        return sendError(ex, 416);
      }
      if (r.kind === "ranges") {
        if (r.ranges.length === 1) return sendSingleRange(ex, rep, r.ranges[0]!);
        return sendMultipart(ex, entry, rep, r.ranges);
      }
    }
  }

  if (rep.body) return ex.send(200, rep.body);
  // HEAD: the engine writes the head with this length and never reads the (empty) stream.
  if (ex.method === "HEAD") return ex.stream(200, Readable.from([]), rep.size >= 0 ? rep.size : undefined);
  const stream = body();
  if (!stream) return sendError(ex, 500);
  ex.stream(200, stream, rep.size >= 0 ? rep.size : undefined);
}

function sendSingleRange(ex: Exchange, rep: Representation, r: ByteRange): void {
  ex.setHeader("Content-Range", `bytes ${r.start}-${r.end}/${rep.size}`);
  if (rep.body) return ex.send(206, rep.body.subarray(r.start, r.end + 1));
  ex.stream(206, fileStream(rep.path!, r.start, r.end), r.end - r.start + 1);
}

function sendMultipart(ex: Exchange, entry: FileEntry, rep: Representation, ranges: ByteRange[]): void {
  const boundary = `wharf-${rep.etag.replace(/[^0-9a-z]/gi, "")}-${ranges.length}`;
  const heads = ranges.map((r, i) =>
    Buffer.from(
      `${i === 0 ? "" : "\r\n"}--${boundary}\r\nContent-Type: ${entry.type}\r\n` +
        `Content-Range: bytes ${r.start}-${r.end}/${rep.size}\r\n\r\n`,
    ),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  let length = tail.length;
  for (let i = 0; i < ranges.length; i++) length += heads[i]!.length + ranges[i]!.end - ranges[i]!.start + 1;
  ex.setHeader("Content-Type", `multipart/byteranges; boundary=${boundary}`);
  ex.removeHeader("Content-Encoding");
  if (rep.coding) ex.setHeader("Content-Encoding", rep.coding);
  if (rep.body) {
    const parts: Buffer[] = [];
    for (let i = 0; i < ranges.length; i++)
      parts.push(heads[i]!, rep.body.subarray(ranges[i]!.start, ranges[i]!.end + 1));
    parts.push(tail);
    return ex.send(206, Buffer.concat(parts, length));
  }
  const path = rep.path!;
  async function* parts() {
    for (let i = 0; i < ranges.length; i++) {
      yield heads[i]!;
      yield* fileStream(path, ranges[i]!.start, ranges[i]!.end);
    }
    yield tail;
  }
  ex.stream(206, Readable.from(parts(), { objectMode: false }), length);
}

/** A read stream over an inclusive byte range of a file, in large chunks. */
export function fileStream(path: string, start?: number, end?: number): Readable {
  return createReadStream(path, {
    highWaterMark: STREAM_CHUNK,
    ...(start !== undefined ? { start } : {}),
    ...(end !== undefined ? { end } : {}),
  });
}
