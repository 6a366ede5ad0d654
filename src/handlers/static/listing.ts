import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { escapeHtml } from "../../http/error-page.ts";

export interface ListingItem {
  name: string;
  type: "directory" | "file" | "other";
  size: number;
  modified: string;
}

/** Reads a directory for a listing: directories first, then by name; dotfiles left out unless shown. */
export async function readListing(dir: string, showDotfiles: boolean): Promise<ListingItem[]> {
  const dirents: Dirent[] = await readdir(dir, { withFileTypes: true });
  const items = await Promise.all(
    dirents
      .filter((d) => showDotfiles || !d.name.startsWith("."))
      .map(async (d): Promise<ListingItem | undefined> => {
        const st = await stat(join(dir, d.name)).catch(() => undefined);
        if (!st) return undefined;
        return {
          name: d.name,
          type: st.isDirectory() ? "directory" : st.isFile() ? "file" : "other",
          size: st.isFile() ? st.size : 0,
          modified: st.mtime.toISOString(),
        };
      }),
  );
  return items
    .filter((i): i is ListingItem => i !== undefined)
    .sort((a, b) =>
      a.type === b.type ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.type === "directory" ? -1 : 1,
    );
}

/** A plain, accessible HTML index of `items` for URL path `urlPath` (ending in `/`). */
export function renderListingHtml(urlPath: string, items: ListingItem[]): string {
  const title = `Index of ${escapeHtml(urlPath)}`;
  const rows = items.map((i) => {
    const name = i.type === "directory" ? `${i.name}/` : i.name;
    const href = encodeURIComponent(i.name) + (i.type === "directory" ? "/" : "");
    const size = i.type === "file" ? String(i.size) : "-";
    return `<tr><td><a href="${href}">${escapeHtml(name)}</a></td><td>${size}</td><td>${i.modified}</td></tr>`;
  });
  const up = urlPath === "/" ? "" : `<tr><td><a href="../">../</a></td><td>-</td><td></td></tr>`;
  return (
    `<!doctype html>\n<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
    `<title>${title}</title></head><body><h1>${title}</h1>\n<table><thead><tr><th>Name</th><th>Size</th>` +
    `<th>Modified</th></tr></thead><tbody>\n${up}${rows.join("\n")}\n</tbody></table></body></html>\n`
  );
}

/** Whether an Accept header prefers JSON to HTML. */
export function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  let json = -1;
  let html = -1;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    let q = 1;
    for (const p of params) {
      const m = /^\s*q=([0-9.]+)/.exec(p);
      if (m) q = Number(m[1]);
    }
    if (type === "application/json") json = Math.max(json, q);
    else if (type === "text/html") html = Math.max(html, q);
  }
  return json > 0 && json > html;
}
