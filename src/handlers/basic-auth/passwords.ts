import { argon2, createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** A stored password hash that can check a password (in constant time where it compares bytes). */
export interface PasswordHash {
  verify(password: string): Promise<boolean>;
}

/** scrypt's cost for new hashes: N = 2^15, r = 8, p = 1 (32 MiB, a few hundred ms here). */
const SCRYPT = { ln: 15, r: 8, p: 1 };
/** Argon2id's for new hashes: OWASP's 19 MiB, 2 passes, 1 lane. */
const ARGON2 = { m: 19456, t: 2, p: 1 };

const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
const unb64 = (s: string) => Buffer.from(s, "base64");

/**
 * Hashes a password for `basic_auth` (what `wharf hash-password` prints): scrypt or
 * Argon2id from node:crypto, salted, in the PHC string format.
 */
export async function hashPassword(
  password: string,
  algorithm: "scrypt" | "argon2id" = "scrypt",
): Promise<string> {
  const salt = randomBytes(16);
  if (algorithm === "argon2id") {
    const tag = await argon2Tag(password, salt, ARGON2.m, ARGON2.t, ARGON2.p, 32);
    return `$argon2id$v=19$m=${ARGON2.m},t=${ARGON2.t},p=${ARGON2.p}$${b64(salt)}$${b64(tag)}`;
  }
  const key = await scryptAsync(password, salt, 32, scryptOptions(SCRYPT.ln, SCRYPT.r, SCRYPT.p));
  return `$scrypt$ln=${SCRYPT.ln},r=${SCRYPT.r},p=${SCRYPT.p}$${b64(salt)}$${b64(key)}`;
}

function scryptOptions(ln: number, r: number, p: number) {
  return { N: 2 ** ln, r, p, maxmem: 128 * 2 ** ln * r * p + 1024 * 1024 };
}

function argon2Tag(
  password: string,
  salt: Buffer,
  m: number,
  t: number,
  p: number,
  length: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    argon2(
      "argon2id",
      { message: password, nonce: salt, memory: m, passes: t, parallelism: p, tagLength: length },
      (err, tag) => (err ? reject(err) : resolve(tag)),
    ),
  );
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

/**
 * Reads a stored hash: scrypt and Argon2id (PHC strings, as `wharf hash-password` makes),
 * bcrypt (`$2a$`, `$2b$`, `$2y$`: htpasswd -B, Caddy), Apache's MD5 (`$apr1$`: htpasswd -m)
 * and `{SHA}` (htpasswd -s). Returns why not for anything else, plaintext included.
 */
export function parseHash(text: string): PasswordHash | string {
  const s = text.trim();
  let m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(s);
  if (m) {
    const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) return "scrypt parameters out of range";
    const salt = unb64(m[4]!);
    const key = unb64(m[5]!);
    return {
      verify: async (pw) => same(await scryptAsync(pw, salt, key.length, scryptOptions(ln, r, p)), key),
    };
  }
  m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(s);
  if (m) {
    const [mem, t, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (mem < 1024 || mem > 1 << 21 || t < 1 || t > 20 || p < 1 || p > 16)
      return "argon2id parameters out of range";
    const salt = unb64(m[4]!);
    const tag = unb64(m[5]!);
    return { verify: async (pw) => same(await argon2Tag(pw, salt, mem, t, p, tag.length), tag) };
  }
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(s)) {
    // $2y$ (PHP, htpasswd) is the same algorithm as $2b$.
    const normalized = s.replace(/^\$2y\$/, "$2b$");
    return {
      verify: async (pw) => (await import("bcryptjs")).default.compare(pw, normalized),
    };
  }
  m = /^\$apr1\$([^$]{1,8})\$([./0-9A-Za-z]{22})$/.exec(s);
  if (m) {
    const expected = Buffer.from(s);
    const salt = m[1]!;
    return { verify: async (pw) => same(Buffer.from(apr1(pw, salt)), expected) };
  }
  m = /^\{SHA\}([A-Za-z0-9+/]{27}=)$/.exec(s);
  if (m) {
    const expected = unb64(m[1]!);
    return { verify: async (pw) => same(createHash("sha1").update(pw).digest(), expected) };
  }
  if (/^\$[0-9a-z]+\$/.test(s)) return `unsupported hash format "${s.split("$")[1]}"`;
  return "not a password hash (plaintext is refused: make one with `wharf hash-password`)";
}

const ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function to64(v: number, n: number): string {
  let out = "";
  for (let i = 0; i < n; i++) {
    out += ITOA64[v & 0x3f];
    v >>= 6;
  }
  return out;
}

/** Apache's MD5 crypt (`$apr1$`), as htpasswd -m and `openssl passwd -apr1` make it. */
export function apr1(password: string, salt: string): string {
  const pw = Buffer.from(password);
  const magic = "$apr1$";
  let final = createHash("md5").update(pw).update(salt).update(pw).digest();
  const ctx = createHash("md5").update(pw).update(magic).update(salt);
  for (let left = pw.length; left > 0; left -= 16) ctx.update(final.subarray(0, Math.min(16, left)));
  for (let i = pw.length; i > 0; i >>= 1) ctx.update(i & 1 ? Buffer.from([0]) : pw.subarray(0, 1));
  final = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = createHash("md5");
    c.update(i & 1 ? pw : final);
    if (i % 3) c.update(salt);
    if (i % 7) c.update(pw);
    c.update(i & 1 ? final : pw);
    final = c.digest();
  }
  const f = final;
  const out =
    to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) +
    to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) +
    to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) +
    to64(f[11]!, 2);
  return `${magic}${salt}$${out}`;
}

/**
 * Reads an htpasswd file's text: `user:hash` lines (comments and blank lines skipped).
 * Problems come back with their line numbers.
 */
export function parseHtpasswd(text: string): { users: Map<string, string>; problems: string[] } {
  const users = new Map<string, string>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      problems.push(`line ${i + 1}: not "user:hash"`);
      return;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1).trim();
    const parsed = parseHash(hash);
    if (typeof parsed === "string") problems.push(`line ${i + 1} (${user}): ${parsed}`);
    else users.set(user, hash);
  });
  return { users, problems };
}
