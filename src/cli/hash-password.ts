import { hashPassword } from "../handlers/basic-auth/passwords.ts";

/** Reads a line from a terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let text = "";
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (d: Buffer) => {
      for (const ch of d.toString("utf8")) {
        if (ch === "\r" || ch === "\n") {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off("data", onData);
          process.stderr.write("\n");
          return resolve(text);
        }
        if (ch === "\u0003") {
          stdin.setRawMode(false);
          return reject(new Error("interrupted"));
        }
        if (ch === "\u007f") text = text.slice(0, -1);
        else text += ch;
      }
    };
    stdin.on("data", onData);
  });
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  // One password, the first line: a trailing newline (echo, a file) is not part of it.
  return Buffer.concat(parts).toString("utf8").split(/\r?\n/)[0] ?? "";
}

/**
 * `wharf hash-password`: the password from stdin (a pipe) or asked twice at a terminal,
 * hashed for `basic_auth` (scrypt by default, Argon2id on request), printed on one line.
 */
export async function hashPasswordCommand(algorithm: "scrypt" | "argon2id"): Promise<string> {
  let password: string;
  if (process.stdin.isTTY) {
    password = await promptHidden("Password: ");
    if ((await promptHidden("Again: ")) !== password) throw new Error("the passwords do not match");
  } else password = await readStdin();
  if (password === "") throw new Error("an empty password is not a password");
  return hashPassword(password, algorithm);
}
