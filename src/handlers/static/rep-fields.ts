import type { Exchange } from "../../http/exchange.ts";
import { FieldBlock, type PreparedBody } from "../../http/field-block.ts";
import { latin1 } from "../../http/latin1.ts";
import type { FileEntry, Representation } from "./file-entry.ts";

/** Bodies up to this size are also kept as a string, for engines that write head and body as one. */
const TEXT_COPY_MAX = 16 * 1024;

/** The fields a representation is sent with, prepared once: for a 304, for a full response, and its body. */
export interface RepFields {
  /** Caching policy and validators: what a 304 carries (RFC 9110 §15.4.5). */
  notModified: FieldBlock;
  /** The same, then the representation's metadata: what a 200 or 206 carries. */
  ok: FieldBlock;
  /** The whole body, when it is in memory. */
  body: PreparedBody | undefined;
  /** Bytes the prepared form holds beyond the representation's own (the string copy). */
  extraBytes: number;
}

/** Prepares the fields of `rep` of `entry`, served under `cacheControl`. */
export function prepareFields(
  entry: FileEntry,
  rep: Representation,
  cacheControl: string | undefined,
): RepFields {
  const caching = [
    ["Cache-Control", cacheControl],
    ["Vary", entry.codings.length > 0 ? "Accept-Encoding" : undefined],
    ["Last-Modified", entry.lastModified],
    ["ETag", rep.etag],
  ] as const;
  const ok = new FieldBlock([
    ...caching,
    ["Content-Type", entry.type],
    ["X-Content-Type-Options", "nosniff"],
    ["Content-Encoding", rep.coding],
    // A body of unknown length (compressed while it streams) is never served in ranges.
    ["Accept-Ranges", rep.size >= 0 ? "bytes" : undefined],
  ]);
  const text =
    rep.body && rep.body.length <= TEXT_COPY_MAX ? latin1(rep.body, 0, rep.body.length) : undefined;
  return {
    notModified: new FieldBlock(caching),
    ok,
    body: rep.body ? { bytes: rep.body, latin1: text } : undefined,
    extraBytes: text?.length ?? 0,
  };
}

/** Sets the fields of a block on the exchange (for responses built the long way). */
export function applyFields(ex: Exchange, block: FieldBlock): void {
  for (let i = 0; i < block.names.length; i++) ex.setHeader(block.names[i]!, block.values[i]!);
}
