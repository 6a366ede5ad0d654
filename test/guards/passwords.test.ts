import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { apr1, hashPassword, parseHash, parseHtpasswd } from "../../src/handlers/basic-auth/passwords.ts";
import { runWharf } from "../helpers/wharf.ts";

const verify = async (hash: string, pw: string) => {
  const h = parseHash(hash);
  assert.notEqual(typeof h, "string", String(h));
  return (h as Exclude<typeof h, string>).verify(pw);
};

test("scrypt and Argon2id hashes from hash-password verify the password, and only it", async () => {
  for (const alg of ["scrypt", "argon2id"] as const) {
    const h = await hashPassword("correct horse", alg);
    assert.match(h, alg === "scrypt" ? /^\$scrypt\$ln=15,r=8,p=1\$/ : /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verify(h, "correct horse"), true);
    assert.equal(await verify(h, "correct horse "), false);
    assert.notEqual(await hashPassword("correct horse", alg), h, "salted");
  }
});

test("apr1 (htpasswd -m) agrees with openssl passwd -apr1", async () => {
  const line = execFileSync("openssl", ["passwd", "-apr1", "-salt", "WhArF123", "s3cret!"]).toString().trim();
  assert.equal(apr1("s3cret!", "WhArF123"), line);
  assert.equal(await verify(line, "s3cret!"), true);
  assert.equal(await verify(line, "s3cret"), false);
});

test("bcrypt lines from htpasswd -B ($2y$) and the OpenBSD test vector", async () => {
  const vector = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";
  assert.equal(await verify(vector, "U*U"), true);
  assert.equal(await verify(vector.replace("$2a$", "$2y$"), "U*U"), true);
  assert.equal(await verify(vector, "U*V"), false);
});

test("plaintext and unknown formats are refused, with a reason", () => {
  assert.match(String(parseHash("hunter2")), /plaintext is refused/);
  assert.match(String(parseHash("$6$salt$abcdef")), /unsupported hash format "6"/);
  const { users, problems } = parseHtpasswd(
    "# a comment\nalice:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\nbob:plain\n\nbroken\n",
  );
  assert.deepEqual([...users.keys()], ["alice"]);
  assert.deepEqual(problems, [
    "line 3 (bob): not a password hash (plaintext is refused: make one with `wharf hash-password`)",
    'line 5: not "user:hash"',
  ]);
});

test("wharf hash-password reads stdin and prints one hash", async () => {
  const { spawnSync } = await import("node:child_process");
  const { WHARF } = await import("../helpers/wharf.ts");
  const r = spawnSync(WHARF, ["hash-password"], { input: "pa55word\n" });
  assert.equal(r.status, 0, r.stderr.toString());
  const hash = r.stdout.toString().trim();
  assert.equal(await verify(hash, "pa55word"), true);
  const bad = await runWharf(["hash-password", "--algorithm", "md5"]);
  assert.equal(bad.code, 2);
});
