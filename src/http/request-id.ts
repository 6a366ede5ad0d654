import { randomBytes } from "node:crypto";

// A per-process random prefix plus a counter: unique across workers and restarts,
// without a random draw per request.
const prefix = randomBytes(4).toString("hex");
let counter = 0;

/** A new request id such as `9f2c01ab-1a`. */
export function nextRequestId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}
