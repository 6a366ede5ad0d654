import type { z } from "zod";
import { WharfError } from "../core/errors.ts";
import type { SchemaContext } from "../core/schema-fields.ts";
import abort from "./abort/index.ts";
import basicAuth from "./basic-auth/index.ts";
import connLimit from "./conn-limit/index.ts";
import encode from "./encode/index.ts";
import forwardAuth from "./forward-auth/index.ts";
import headers from "./headers/index.ts";
import health from "./health/index.ts";
import ipFilter from "./ip-filter/index.ts";
import metrics from "./metrics/index.ts";
import proxy from "./proxy/index.ts";
import rateLimit from "./rate-limit/index.ts";
import type { HandlerFactory, HandlerRecord, SchemaBuilder } from "./record.ts";
import redirect from "./redirect/index.ts";
import respond from "./respond/index.ts";
import rewrite from "./rewrite/index.ts";
import staticFiles from "./static/index.ts";

/**
 * Every handler a route may name: the one list the config schema, the canonical config
 * type and the worker's registry are derived from. A new handler is a folder with an
 * `index.ts` record and one line here.
 */
export const HANDLERS = [
  staticFiles,
  redirect,
  respond,
  headers,
  proxy,
  encode,
  basicAuth,
  ipFilter,
  rateLimit,
  connLimit,
  forwardAuth,
  rewrite,
  abort,
  health,
  metrics,
] as const;

type AnyRecord = (typeof HANDLERS)[number];
export type HandlerName = AnyRecord["name"];

/** One handler in a route's chain, as the canonical config holds it: `{ <name>: config }`. */
export type HandlerConfig = AnyRecord extends infer R
  ? R extends HandlerRecord<infer N, infer C>
    ? { [K in N]: C }
    : never
  : never;

const byName = new Map<string, HandlerRecord<string, unknown>>(
  HANDLERS.map((r) => [r.name, r as unknown as HandlerRecord<string, unknown>]),
);
const factories = new Map<string, HandlerFactory<unknown>>();

/** Loads the factories of the handlers `names` use (a worker loads only what its config needs). */
export async function loadHandlers(names: Iterable<string>): Promise<void> {
  for (const name of new Set(names)) {
    if (factories.has(name)) continue;
    const record = byName.get(name);
    if (record === undefined) throw new WharfError("WHARF_ERR_CONFIG", `unknown handler "${name}"`);
    factories.set(name, await record.create());
  }
}

/** The factory of a handler loaded by {@link loadHandlers}. */
export function handlerFactory(name: string): HandlerFactory<unknown> {
  const f = factories.get(name);
  if (f === undefined)
    throw new WharfError("WHARF_ERR_INTERNAL", `the ${name} handler was not loaded (loadHandlers)`);
  return f;
}

/** Every handler's name (known without loading anything). */
export const HANDLER_NAMES: ReadonlySet<string> = new Set(byName.keys());

/**
 * The schema builders of the handlers `names` (every handler by default), by name: the
 * config loader loads only those a config uses (each costs start-up time with zod).
 */
export async function loadHandlerSchemas(
  names: Iterable<string> = HANDLER_NAMES,
): Promise<Map<string, SchemaBuilder<unknown>>> {
  const out = new Map<string, SchemaBuilder<unknown>>();
  for (const name of names) {
    const r = byName.get(name);
    if (r) out.set(name, await r.schema());
  }
  return out;
}

/** The handler names a raw (unvalidated) config uses in its routes, as keys or in `handle` lists. */
export function handlerNamesIn(raw: unknown): Set<string> {
  const used = new Set<string>();
  const visit = (item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return;
    for (const [k, v] of Object.entries(item)) {
      if (HANDLER_NAMES.has(k)) used.add(k);
      if (k === "handle" && Array.isArray(v)) v.forEach(visit);
    }
  };
  const sites = (raw as { sites?: unknown } | null)?.sites;
  if (Array.isArray(sites))
    for (const site of sites) {
      const routes = (site as { routes?: unknown } | null)?.routes;
      if (Array.isArray(routes)) routes.forEach(visit);
    }
  return used;
}

/** Builds every handler's schema for one config (after {@link loadHandlerSchemas}). */
export function buildHandlerSchemas(
  builders: Map<string, SchemaBuilder<unknown>>,
  ctx: SchemaContext,
): Record<string, z.ZodType> {
  return Object.fromEntries([...builders].map(([name, build]) => [name, build(ctx)]));
}

export type {
  Handle,
  HandlerContext,
  HandlerInstance,
  Next,
  SharedState,
  UpstreamRegistry,
  UpstreamView,
} from "./handler.ts";
