import type { z } from "zod";
import type { SchemaContext } from "../core/schema-fields.ts";
import type { HandlerContext, HandlerInstance } from "./handler.ts";

/** Builds a handler's config schema; relative paths resolve against `ctx.baseDir`. */
export type SchemaBuilder<C> = (ctx: SchemaContext) => z.ZodType<C, unknown>;

/** Builds a handler from its validated config, once per config load. */
export type HandlerFactory<C> = (cfg: C, ctx: HandlerContext) => HandlerInstance;

/**
 * Everything wharf knows of one handler, declared once in its folder's `index.ts` (as a
 * Caddy module declares its id and constructor): the key a route writes it under, its
 * config schema and its factory. Both are loaded on demand: the schema (and zod) only by
 * the process that validates a config, the factory only by a worker whose config uses it.
 */
export interface HandlerRecord<N extends string = string, C = never> {
  readonly name: N;
  schema(): Promise<SchemaBuilder<C>>;
  create(): Promise<HandlerFactory<C>>;
}

/** Declares a handler (the identity, with the types checked and inferred). */
export function defineHandler<N extends string, C>(record: HandlerRecord<N, C>): HandlerRecord<N, C> {
  return record;
}

/** The config type a handler record takes. */
export type ConfigOf<R> = R extends HandlerRecord<string, infer C> ? C : never;
