import { parseHostHeader } from "./host.ts";

/** What a request-target and Host come to: the origin-form target and host to route by. */
export interface Routed {
  target: string;
  host: string;
}

/**
 * Resolves the request-target forms (RFC 9112 §3.2) and the Host: origin-form as is,
 * absolute-form with its authority replacing Host, `OPTIONS *` (target "*", answered by
 * the dispatcher for the whole server); a status for anything refused.
 */
export function routeTarget(method: string, url: string, hostValue: string): Routed | number {
  let target = url;
  let hostText = hostValue;
  if (url.charCodeAt(0) !== 47 /* / */) {
    if (url === "*" && method === "OPTIONS") {
      const host = parseHostHeader(hostText);
      return host === undefined ? 400 : { target: "*", host };
    }
    // absolute-form: the target's authority replaces Host.
    const m = /^https?:\/\/([^/?#]*)([^#]*)$/i.exec(url);
    if (!m) return 400;
    hostText = m[1]!;
    target = m[2] || "/";
    if (target.charCodeAt(0) !== 47) target = `/${target}`;
  }
  const host = parseHostHeader(hostText);
  if (host === undefined) return 400;
  return { target, host };
}
