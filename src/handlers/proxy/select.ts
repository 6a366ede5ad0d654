import { createHash } from "node:crypto";
import type { Upstream } from "./upstream.ts";

export type Policy = "round_robin" | "least_conn" | "ip_hash" | "first" | "random" | "cookie";

/** What a policy may look at when choosing. */
export interface Choice {
  clientIp: string;
  /** The sticky cookie's value, for `cookie`. */
  cookie: string | undefined;
}

export type Selector = (candidates: Upstream[], choice: Choice) => Upstream;

/** A stable, opaque id for an upstream in a sticky cookie (does not reveal its address). */
export function stickyId(u: Upstream): string {
  return createHash("sha256").update(u.address.text).digest("hex").slice(0, 16);
}

function hashString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Smooth weighted round robin: over time each upstream gets its weight's share, interleaved. */
function roundRobin(candidates: Upstream[]): Upstream {
  let total = 0;
  let best = candidates[0]!;
  for (const u of candidates) {
    u.currentWeight += u.weight;
    total += u.weight;
    if (u.currentWeight > best.currentWeight) best = u;
  }
  best.currentWeight -= total;
  return best;
}

/** Builds the selection function of a policy. `candidates` is never empty. */
export function makeSelector(policy: Policy): Selector {
  switch (policy) {
    case "round_robin":
      return (c) => roundRobin(c);
    case "least_conn":
      return (c) => {
        let best = c[0]!;
        for (const u of c) if (u.active / u.weight < best.active / best.weight) best = u;
        // Ties share the load round-robin instead of piling on the first.
        const ties = c.filter((u) => u.active / u.weight === best.active / best.weight);
        return ties.length > 1 ? roundRobin(ties) : best;
      };
    case "ip_hash":
      return (c, { clientIp }) => c[hashString(clientIp) % c.length]!;
    case "first":
      return (c) => c[0]!;
    case "random":
      // Power of two choices: two at random, the less loaded of them.
      return (c) => {
        const a = c[Math.floor(Math.random() * c.length)]!;
        const b = c[Math.floor(Math.random() * c.length)]!;
        return a.active / a.weight <= b.active / b.weight ? a : b;
      };
    case "cookie":
      return (c, { cookie }) => (cookie && c.find((u) => stickyId(u) === cookie)) || roundRobin(c);
  }
}
