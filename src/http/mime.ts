import { createRequire } from "node:module";
import type { MimeEntry } from "mime-db";

const db = createRequire(import.meta.url)("mime-db") as Record<string, MimeEntry>;

export interface MimeInfo {
  /** Content-Type value, with `charset=utf-8` for text types. */
  type: string;
  /** Worth compressing (text, JSON, SVG…); never images, video or archives. */
  compressible: boolean;
}

const byExt = new Map<string, MimeInfo>();
// mime-db lists several types for some extensions; prefer IANA-sourced ones, as mime-types does.
const rank: Record<string, number> = { nginx: 1, apache: 2, iana: 3 };
const chosenRank = new Map<string, number>();
for (const [type, entry] of Object.entries(db)) {
  for (const ext of entry.extensions ?? []) {
    const r = rank[entry.source ?? ""] ?? 0;
    const prev = chosenRank.get(ext);
    if (prev !== undefined && (prev > r || (prev === r && type.startsWith("application/")))) continue;
    chosenRank.set(ext, r);
    const textual =
      type.startsWith("text/") || entry.charset === "UTF-8" || /[+/](json|xml|javascript)$/.test(type);
    byExt.set(ext, {
      type: textual ? `${type}; charset=utf-8` : type,
      compressible: entry.compressible === true || (textual && entry.compressible !== false),
    });
  }
}
// Browsers expect these exact types; pin them whatever the database's ranking says.
byExt.set("js", { type: "text/javascript; charset=utf-8", compressible: true });
byExt.set("mjs", { type: "text/javascript; charset=utf-8", compressible: true });
byExt.set("wasm", { type: "application/wasm", compressible: true });

const UNKNOWN: MimeInfo = { type: "application/octet-stream", compressible: false };

/** The content type of a file name, from mime-db; `application/octet-stream` when unknown. */
export function mimeFor(fileName: string): MimeInfo {
  const dot = fileName.lastIndexOf(".");
  if (dot === -1 || dot < fileName.lastIndexOf("/")) return UNKNOWN;
  return byExt.get(fileName.slice(dot + 1).toLowerCase()) ?? UNKNOWN;
}

/**
 * Whether a response of this Content-Type is worth compressing: text, JSON, JavaScript,
 * XML, SVG, wasm and what else mime-db marks compressible; never images, video, fonts in
 * compressed formats or archives.
 */
export function compressibleType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semi = contentType.indexOf(";");
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type.startsWith("text/")) return true;
  const entry = db[type];
  if (entry?.compressible !== undefined) return entry.compressible;
  return /[+/](json|xml|javascript)$/.test(type) || type === "application/wasm";
}
