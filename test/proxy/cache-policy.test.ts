import assert from "node:assert/strict";
import { test } from "node:test";
import {
  currentAge,
  freshnessLifetime,
  parseCacheControl,
  staleRules,
  verdict,
  whyNotStored,
} from "../../src/handlers/proxy/cache/policy.ts";

const fields = (h: Record<string, string>) => ({ get: (n: string) => h[n] });
const httpDate = (s: number) => new Date(s * 1000).toUTCString();

test("Cache-Control parsing: case, quoted arguments, first occurrence wins", () => {
  const d = parseCacheControl('Max-Age=60, private="Set-Cookie, X", no-cache, max-age=5');
  assert.equal(d.get("max-age"), "60");
  assert.equal(d.get("private"), "Set-Cookie, X");
  assert.equal(d.get("no-cache"), true);
});

test("§4.2.3: current age from Date, Age, the response delay and the time resident", () => {
  // Sent at 100, answered at 102 with Date 98 and Age 10; now 150.
  assert.equal(currentAge({ date: 98, age: 10, requestTime: 100, responseTime: 102 }, 150), 60);
  // Without Date or Age: the delay and the time resident.
  assert.equal(currentAge({ date: undefined, age: 0, requestTime: 100, responseTime: 101 }, 110), 10);
});

test("§4.2.1: freshness from s-maxage, max-age, Expires − Date, heuristics, default_ttl", () => {
  const o = { defaultTtl: 0 };
  assert.equal(freshnessLifetime(200, fields({ "cache-control": "max-age=10, s-maxage=20" }), 0, o), 20);
  assert.equal(freshnessLifetime(200, fields({ "cache-control": "max-age=10" }), 0, o), 10);
  assert.equal(
    freshnessLifetime(200, fields({ date: httpDate(1000), expires: httpDate(1300) }), 1000, o),
    300,
  );
  assert.equal(
    freshnessLifetime(200, fields({ date: httpDate(1000), "last-modified": httpDate(0) }), 1000, o),
    100,
  );
  assert.equal(freshnessLifetime(200, fields({}), 0, { defaultTtl: 30 }), 30);
  assert.equal(freshnessLifetime(200, fields({ "cache-control": "no-cache, max-age=60" }), 0, o), 0);
});

test("§3: what a shared cache may store", () => {
  const o = { defaultTtl: 0 };
  const store = (status: number, h: Record<string, string>, auth = false) =>
    whyNotStored("GET", auth, new Map(), status, fields(h), o);
  assert.equal(store(200, { "cache-control": "max-age=1" }), undefined);
  assert.equal(store(200, { "cache-control": "private, max-age=1" }), "private");
  assert.equal(store(200, { "cache-control": "max-age=1", "set-cookie": "a=1" }), "set-cookie");
  assert.equal(store(200, { "cache-control": "max-age=1" }, true), "authorization");
  assert.equal(store(200, { "cache-control": "public" }, true), undefined);
  assert.equal(store(206, { "cache-control": "max-age=1" }), "status");
  assert.equal(store(200, {}), "no-freshness");
  assert.equal(
    whyNotStored("POST", false, new Map(), 200, fields({ "cache-control": "max-age=1" }), o),
    "method",
  );
});

test("§4 and RFC 5861: fresh, stale-while-revalidate, or revalidate", () => {
  const swr = staleRules(fields({ "cache-control": "max-age=10, stale-while-revalidate=30" }), 0, 0);
  assert.deepEqual(verdict(5, 10, swr, new Map(), false), { use: "fresh" });
  assert.deepEqual(verdict(20, 10, swr, new Map(), false), { use: "stale-while-revalidate" });
  assert.deepEqual(verdict(50, 10, swr, new Map(), false), { use: "revalidate" });
  const must = staleRules(
    fields({ "cache-control": "max-age=10, must-revalidate, stale-while-revalidate=30" }),
    60,
    60,
  );
  assert.deepEqual(
    verdict(20, 10, must, new Map(), false),
    { use: "revalidate" },
    "must-revalidate forbids stale use",
  );
  assert.deepEqual(verdict(5, 10, swr, parseCacheControl("no-cache"), false), { use: "revalidate" });
  assert.deepEqual(
    verdict(5, 10, swr, new Map(), true),
    { use: "revalidate" },
    "Pragma: no-cache (HTTP/1.0)",
  );
  assert.deepEqual(verdict(5, 10, swr, parseCacheControl("min-fresh=8"), false), { use: "revalidate" });
  assert.deepEqual(verdict(15, 10, swr, parseCacheControl("max-stale=10"), false), { use: "fresh" });
});
