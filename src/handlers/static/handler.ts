import { realpathSync } from "node:fs";
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { performance } from "node:perf_hooks";
import { compileGlob } from "../../core/glob.ts";
import { type Coding, chooseCoding } from "../../http/content-coding.ts";
import { sendError } from "../../http/error-page.ts";
import type { Exchange } from "../../http/exchange.ts";
import type { HandlerContext, HandlerInstance, Next } from "../handler.ts";
import { compressBuffer, compressStream } from "./compress.ts";
import { FileCache, type Slot } from "./file-cache.ts";
import {
  buildEntry,
  type EntryOptions,
  entryIsCurrent,
  type FileEntry,
  type Representation,
} from "./file-entry.ts";
import { prefersJson, readListing, renderListingHtml } from "./listing.ts";
import { prepareFields } from "./rep-fields.ts";
import { type Resolved, type ResolveOptions, resolveFile } from "./resolve.ts";
import type { StaticConfig } from "./schema.ts";
import { fileStream, serveRepresentation } from "./serve-file.ts";

const ALLOW = "GET, HEAD, OPTIONS";
/** How long a cached file is trusted before the disk is checked again (nginx's open_file_cache_valid, tighter). */
const REVALIDATE_MS = 1000;
const fsFns = { stat, realpath, readdir };

/** The static file handler: files under `root`, done to RFC 9110. */
export function createStatic(cfg: StaticConfig, ctx: HandlerContext): HandlerInstance {
  const resolveOpts: ResolveOptions = {
    root: realpathSync(cfg.root),
    index: cfg.index,
    dotfiles: cfg.dotfiles,
    followSymlinksOutsideRoot: cfg.follow_symlinks_outside_root,
  };
  const entryOpts: EntryOptions = {
    precompressed: cfg.precompressed,
    compress: {
      enabled: cfg.compress.enabled,
      encodings: cfg.compress.encodings,
      minSize: cfg.compress.min_size,
    },
    maxInMemory: cfg.cache.max_file_size,
  };
  const cache = new FileCache(cfg.cache.entries, cfg.cache.size + cfg.compress.cache_size);
  const rules = cfg.cache_control.map((r) => ({ test: compileGlob(r.match), value: r.value }));
  /** The policy for a URL path, or for the file it names (`/docs/` → `/docs/index.html`). */
  const cacheControlFor = (urlPath: string, file: string) => {
    const filePath = `/${relative(resolveOpts.root, file).split(sep).join("/")}`;
    return rules.find((r) => r.test(urlPath) || r.test(filePath))?.value;
  };
  const log = ctx.log;
  const strip = cfg.strip_prefix;
  /** The path under `root` a request names (after `strip_prefix`), or undefined when it is not under the prefix. */
  const keyOf = (path: string): string | undefined => {
    if (strip === undefined) return path;
    if (path === strip) return "/";
    return path.startsWith(`${strip}/`) ? path.slice(strip.length) : undefined;
  };

  function handle(ex: Exchange, next: Next): void | Promise<void> {
    const method = ex.method;
    if (method !== "GET" && method !== "HEAD") {
      if (cfg.fallthrough) return next();
      ex.setHeader("Allow", ALLOW);
      if (method === "OPTIONS") return ex.send(204);
      return sendError(ex, 405);
    }
    const key = keyOf(ex.path);
    if (key === undefined) return notFound(ex, next, ex.path);
    if (tryFiles !== undefined) return tryEach(ex, next, key);
    const slot = cache.get(key);
    if (slot !== undefined && isFresh(slot, ex.startedAt)) return serve(ex, slot);
    return lookup(ex, next, key, slot);
  }

  /** Whether `slot` was checked against the disk recently enough, as of `now` (performance.now()). */
  function isFresh(slot: Slot, now: number): boolean {
    return now - slot.entry.checkedAt < REVALIDATE_MS;
  }

  /** Lookups in flight by URL path: concurrent requests for a path share one trip to the disk. */
  const inFlight = new Map<string, ReturnType<typeof resolveSlot>>();

  /** The slot for a URL path (see `resolveSlot`), asking the disk once however many requests wait. */
  function slotFor(key: string, stale: Slot | undefined): ReturnType<typeof resolveSlot> {
    let pending = inFlight.get(key);
    if (pending === undefined) {
      pending = resolveSlot(key, stale).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  /**
   * The slot for a URL path: `stale` if the disk still matches it, else resolved and cached
   * anew; when the path names no file, what resolution found instead.
   */
  async function resolveSlot(
    key: string,
    stale: Slot | undefined,
  ): Promise<Slot | Exclude<Resolved, { kind: "file" }>> {
    if (stale) {
      if (await entryIsCurrent(stale.entry, cfg.precompressed)) {
        stale.entry.checkedAt = performance.now();
        cache.set(key, stale);
        return stale;
      }
      cache.delete(key);
    }
    const found = await resolveFile(key, resolveOpts, fsFns);
    if (found.kind !== "file") return found;
    const entry = await buildEntry(found.path, found.stat, entryOpts, performance.now());
    const slot: Slot = { entry, cacheControl: cacheControlFor(key, found.path) };
    cache.set(key, slot);
    return slot;
  }

  async function lookup(ex: Exchange, next: Next, key: string, stale: Slot | undefined): Promise<void> {
    const found = await slotFor(key, stale);
    if ("entry" in found) return serve(ex, found);
    switch (found.kind) {
      case "add-slash":
        // With a route after this one (an app), a directory without an index file is not
        // this handler's to answer: it must not shadow the app's own `/admin`.
        if (cfg.fallthrough && !cfg.browse && !("entry" in (await slotFor(`${key}/`, undefined))))
          return notFound(ex, next, join(resolveOpts.root, key));
        ex.setHeader("Location", `${ex.rawPath}/${ex.query}`);
        return sendError(ex, 301);
      case "directory":
        if (cfg.browse) return sendListing(ex, found.path);
        return notFound(ex, next, found.path);
      case "not-found":
        return notFound(ex, next, join(resolveOpts.root, key));
    }
  }

  const tryFiles = cfg.try_files;
  /** try_files: the first candidate that names a file answers. */
  async function tryEach(ex: Exchange, next: Next, key: string): Promise<void> {
    for (const template of tryFiles!) {
      const candidate = template.replaceAll("{path}", key).replace(/\/{2,}/g, "/");
      const cached = cache.get(candidate);
      const found =
        cached !== undefined && isFresh(cached, ex.startedAt) ? cached : await slotFor(candidate, cached);
      if ("entry" in found) return serve(ex, found);
    }
    return notFound(ex, next, join(resolveOpts.root, key));
  }

  async function notFound(ex: Exchange, next: Next, tried: string): Promise<void> {
    if (cfg.fallthrough) return next();
    if (cfg.spa !== false && ex.path !== cfg.spa) {
      // The SPA page is cached like any file, so every unknown path is not a fresh read.
      const cached = cache.get(cfg.spa);
      const page =
        cached !== undefined && isFresh(cached, performance.now()) ? cached : await slotFor(cfg.spa, cached);
      if ("entry" in page) return serve(ex, page);
    }
    // Which file was looked for: what an operator needs to see why a path is a 404.
    log.debug("static: no such file", { path: ex.path, file: tried, request_id: ex.id });
    sendError(ex, 404);
  }

  function serve(ex: Exchange, slot: Slot): void | Promise<void> {
    const entry = slot.entry;
    let rep = entry.identity;
    if (entry.codings.length > 0) {
      const coding = chooseCoding(ex.header("accept-encoding"), entry.codings);
      if (coding !== undefined) {
        const side = entry.sidecars.get(coding);
        if (side) rep = side;
        else {
          const made = compressed(slot, coding);
          if (made instanceof Promise)
            return made.then((r) => sendRep(ex, slot, r ?? entry.identity, coding));
          if (made === "stream") return sendRep(ex, slot, streamedRep(entry, coding), coding);
          if (made !== null) rep = made;
        }
      }
    }
    return sendRep(ex, slot, rep, rep.coding);
  }

  function sendRep(ex: Exchange, slot: Slot, rep: Representation, coding: Coding | undefined): void {
    const entry = slot.entry;
    let fields = rep.fields;
    if (fields === undefined) {
      fields = prepareFields(entry, rep, slot.cacheControl);
      rep.fields = fields;
      if (fields.extraBytes > 0) cache.grew(entry, fields.extraBytes);
    }
    serveRepresentation(ex, entry, rep, fields, () => {
      if (rep.path === undefined) return undefined;
      if (rep.size >= 0) return fileStream(rep.path);
      // Unknown length: compressed while it streams.
      const src = fileStream(rep.path);
      const z = compressStream(coding!);
      src.on("error", (err) => z.destroy(err));
      return src.pipe(z);
    });
  }

  /** The compressed copy of an entry: made once and cached; "stream" for files too large to cache. */
  function compressed(
    slot: Slot,
    coding: Coding,
  ): Representation | null | Promise<Representation | null> | "stream" {
    const entry = slot.entry;
    const have = entry.compressed.get(coding);
    if (have !== undefined) return have;
    if (entry.size > cfg.compress.cache_max_file_size) return "stream";
    const pending = (async () => {
      try {
        const source = entry.identity.body ?? (await readFile(entry.path));
        const out = await compressBuffer(coding, source);
        // Not worth it when it does not shrink: remember that, and send identity.
        const rep: Representation | null =
          out.length < source.length
            ? {
                coding,
                etag: `${entry.identity.etag.slice(0, -1)}-${coding}"`,
                size: out.length,
                body: out,
                path: undefined,
              }
            : null;
        entry.compressed.set(coding, rep);
        cache.grew(entry, rep?.size ?? 0);
        return rep;
      } catch (err) {
        log.warn("compression failed", { path: entry.path, coding, err });
        entry.compressed.set(coding, null);
        return null;
      }
    })();
    entry.compressed.set(coding, pending);
    return pending;
  }

  async function sendListing(ex: Exchange, dir: string): Promise<void> {
    const items = await readListing(dir, cfg.dotfiles);
    ex.setHeader("Vary", "Accept");
    ex.setHeader("Cache-Control", "no-cache");
    if (prefersJson(ex.header("accept"))) {
      ex.setHeader("Content-Type", "application/json; charset=utf-8");
      return ex.send(200, `${JSON.stringify(items)}\n`);
    }
    ex.setHeader("Content-Type", "text/html; charset=utf-8");
    ex.send(200, renderListingHtml(ex.path, items));
  }

  return { handle };
}

function streamedRep(entry: FileEntry, coding: Coding): Representation {
  return {
    coding,
    etag: `${entry.identity.etag.slice(0, -1)}-${coding}"`,
    size: -1,
    body: undefined,
    path: entry.path,
  };
}
