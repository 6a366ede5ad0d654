import type { Dirent, Stats } from "node:fs";
import { join, sep } from "node:path";

/** The filesystem functions resolution needs, passed in so they can be swapped in tests. */
export interface ResolveFs {
  stat(path: string): Promise<Stats>;
  realpath(path: string): Promise<string>;
  readdir(path: string, options: { withFileTypes: true }): Promise<Dirent[]>;
}

export interface ResolveOptions {
  /** The root directory, already a real path. */
  root: string;
  index: readonly string[];
  dotfiles: boolean;
  followSymlinksOutsideRoot: boolean;
}

export type Resolved =
  | { kind: "file"; path: string; stat: Stats }
  | { kind: "directory"; path: string } // a directory without an index file
  | { kind: "add-slash" } // a directory asked for without its trailing slash
  | { kind: "not-found" };

/** True when a normalized URL path names a hidden (dot) segment outside `/.well-known/`. */
export function isHiddenPath(urlPath: string): boolean {
  if (urlPath.indexOf("/.") === -1) return false;
  // "/.well-known" is 12 characters; what follows it may not be hidden either.
  if (urlPath.startsWith("/.well-known/")) return urlPath.indexOf("/.", 12) !== -1;
  return true;
}

/**
 * Maps a normalized URL path (no `..`, no NUL, no backslash: see normalizePath) to a file
 * under the root. Symlinks that lead outside the root count as missing unless allowed.
 */
export async function resolveFile(urlPath: string, opts: ResolveOptions, fs: ResolveFs): Promise<Resolved> {
  if (!opts.dotfiles && isHiddenPath(urlPath)) return { kind: "not-found" };
  const abs = join(opts.root, urlPath);
  const st = await statOrUndefined(fs, abs);
  if (!st) return { kind: "not-found" };
  if (!(await insideRoot(abs, opts, fs))) return { kind: "not-found" };
  if (st.isFile()) {
    if (urlPath.endsWith("/")) return { kind: "not-found" };
    return { kind: "file", path: abs, stat: st };
  }
  if (!st.isDirectory()) return { kind: "not-found" };
  if (!urlPath.endsWith("/")) return { kind: "add-slash" };
  for (const name of opts.index) {
    const candidate = join(abs, name);
    const ist = await statOrUndefined(fs, candidate);
    if (ist?.isFile() && (await insideRoot(candidate, opts, fs)))
      return { kind: "file", path: candidate, stat: ist };
  }
  return { kind: "directory", path: abs };
}

async function statOrUndefined(fs: ResolveFs, path: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(path);
  } catch {
    return undefined;
  }
}

async function insideRoot(abs: string, opts: ResolveOptions, fs: ResolveFs): Promise<boolean> {
  if (opts.followSymlinksOutsideRoot) return true;
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch {
    return false;
  }
  return real === opts.root || real.startsWith(opts.root.endsWith(sep) ? opts.root : opts.root + sep);
}
