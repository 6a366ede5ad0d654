// Opens N keep-alive connections to HOST:PORT, sends one GET on each and reads the answer,
// then holds them idle for HOLD_S seconds. Prints "ready OPEN FAILED" once all are
// settled, and "closed_early N" at the end (connections the server closed meanwhile).
// Usage: node bench/idle-conns.ts HOST PORT N PATH [HOLD_S]
import { connect, type Socket } from "node:net";

const [host = "127.0.0.1", portArg = "0", nArg = "1000", path = "/", holdArg = "20"] = process.argv.slice(2);
const port = Number(portArg);
const n = Number(nArg);
const request = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const sockets: Socket[] = [];
let open = 0;
let failed = 0;
let settled = 0;
let ready = false;
let closedEarly = 0;

function settle(): void {
  if (++settled < n) return;
  console.log(`ready ${open} ${failed}`);
  ready = true;
  setTimeout(() => {
    console.log(`closed_early ${closedEarly}`);
    for (const s of sockets) s.destroy();
    process.exit(0);
  }, Number(holdArg) * 1000);
}

function open1(i: number): void {
  const s = connect({ host, port });
  let done = false;
  const finish = (ok: boolean) => {
    if (done) return;
    done = true;
    if (ok) open++;
    else failed++;
    settle();
  };
  s.setTimeout(15_000, () => {
    finish(false);
    s.destroy();
  });
  s.on("connect", () => s.write(request));
  let buf = "";
  s.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    if (/^HTTP\/1\.1 [23]\d\d/.test(buf) && buf.includes("\r\n\r\n")) {
      s.setTimeout(0);
      finish(true);
    }
  });
  s.on("error", () => finish(false));
  s.on("close", () => {
    if (ready && done) closedEarly++;
    finish(false);
  });
  sockets.push(s);
  if (i + 1 < n) setImmediate(() => open1(i + 1));
}
open1(0);
