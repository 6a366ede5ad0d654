import { addressMatcher } from "../../http/client-address.ts";
import { sendError } from "../../http/error-page.ts";
import type { HandlerInstance } from "../handler.ts";
import type { IpFilterConfig } from "./schema.ts";

/**
 * The `ip_filter` guard on `{client_ip}` (the peer's address, or what a trusted proxy
 * said): a denied address gets 403; with an allow list, so does every address not on it.
 * IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function createIpFilter(cfg: IpFilterConfig): HandlerInstance {
  const denied = addressMatcher(cfg.deny);
  const allowed = cfg.allow.length > 0 ? addressMatcher(cfg.allow) : undefined;
  return {
    handle(ex, next) {
      const ip = ex.clientIp;
      if (denied(ip) || (allowed !== undefined && !allowed(ip))) return sendError(ex, 403);
      return next();
    },
  };
}
