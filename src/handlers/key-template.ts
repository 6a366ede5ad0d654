import type { Exchange } from "../http/exchange.ts";
import { readCookie } from "./proxy/request.ts";

/** The placeholders a key template may use. */
const PLACEHOLDER = /\{(client_ip|path|host|method|header\.[A-Za-z0-9!#$%&'*+.^_`|~-]+|cookie\.[^}\s;=]+)\}/g;

/** Why a key template is not one (for config schemas), or undefined. */
export function checkKeyTemplate(template: string): string | undefined {
  const rest = template.replace(PLACEHOLDER, "");
  if (/[{}]/.test(rest))
    return "placeholders are {client_ip}, {header.NAME}, {cookie.NAME}, {path}, {host} and {method}";
  return undefined;
}

/**
 * A key template (`{client_ip}`, `{header.X-Api-Key}`, `{cookie.session}`, `{path}`…)
 * compiled once into a function of the exchange; a missing field or cookie is "".
 */
export function compileKeyTemplate(template: string): (ex: Exchange) => string {
  if (template === "{client_ip}") return (ex) => ex.clientIp;
  const parts: (string | ((ex: Exchange) => string))[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const name = m[1]!;
    if (name === "client_ip") parts.push((ex) => ex.clientIp);
    else if (name === "path") parts.push((ex) => ex.path);
    else if (name === "host") parts.push((ex) => ex.host);
    else if (name === "method") parts.push((ex) => ex.method);
    else if (name.startsWith("header.")) {
      const field = name.slice(7).toLowerCase();
      parts.push((ex) => ex.header(field) ?? "");
    } else {
      const cookie = name.slice(7);
      parts.push((ex) => readCookie(ex.header("cookie"), cookie) ?? "");
    }
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return (ex) => {
    let out = "";
    for (const p of parts) out += typeof p === "string" ? p : p(ex);
    return out;
  };
}
