import { STATUS_TEXT } from "../core/errors.ts";
import type { Exchange } from "./exchange.ts";

/** Escapes text for inclusion in HTML. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Answers `ex` with an error status: the site's own page for that status when it has one,
 * otherwise a small HTML page naming the status and the request id.
 */
export function sendError(ex: Exchange, status: number, detail?: string): void {
  if (ex.answered) return;
  ex.removeHeader("content-encoding");
  ex.removeHeader("etag");
  ex.removeHeader("last-modified");
  if (status !== 416) ex.removeHeader("content-range");
  ex.removeHeader("accept-ranges");
  ex.removeHeader("content-disposition");
  ex.removeHeader("cache-control");
  const page = ex.errorPages?.get(status);
  if (page) {
    ex.setHeader("Content-Type", page.type);
    ex.send(status, page.body);
    return;
  }
  const text = STATUS_TEXT[status] ?? "Error";
  ex.setHeader("Content-Type", "text/html; charset=utf-8");
  ex.setHeader("Cache-Control", "no-store");
  const body =
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>${status} ${text}</title></head>` +
    `<body><h1>${status} ${text}</h1>${detail ? `<p>${escapeHtml(detail)}</p>` : ""}` +
    `<p><small>request id: ${ex.id}</small></p></body></html>\n`;
  ex.send(status, body);
}
