// Entry point of a worker process: serves whatever config the primary sends it.
import { createLogger } from "../core/logger.ts";
import { setAlpnChallenge, setChallenge } from "../tls/challenges.ts";
import { setOnDemandCert, setOnDemandRequester } from "../tls/on-demand-certs.ts";
import type { ToPrimary, ToWorker } from "./messages.ts";
import { ServerHost } from "./runtime.ts";

const log = createLogger({ fields: { pid: process.pid, worker: Number(process.env.WHARF_WORKER_ID ?? 0) } });
const host = new ServerHost(log);
setOnDemandRequester((name) => tell({ type: "cert-request", name }));
let stopping = false;

function tell(msg: ToPrimary): void {
  process.send?.(msg);
}

async function stop(timeout: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await host.shutdown(timeout);
  process.exit(0);
}

process.on("message", (msg: ToWorker) => {
  if (msg.type === "config") {
    host.apply(msg.config).then(
      () => tell({ type: "ready", seq: msg.seq, addresses: host.boundAddresses() }),
      (err: NodeJS.ErrnoException) =>
        tell({ type: "failed", seq: msg.seq, error: err.message, code: err.code }),
    );
  } else if (msg.type === "shutdown") {
    void stop(msg.timeout);
  } else if (msg.type === "ticket-keys") {
    host.setTicketKeys(Buffer.from(msg.keys, "hex"));
  } else if (msg.type === "acme-http01") {
    setChallenge(msg.token, msg.keyAuthorization);
  } else if (msg.type === "acme-tlsalpn01") {
    setAlpnChallenge(msg.name, msg.cert, msg.key);
  } else if (msg.type === "ondemand-cert") {
    setOnDemandCert(msg.name, msg.cert, msg.key);
  }
});
// A terminal's Ctrl-C reaches the whole process group; drain as for the primary's word.
process.on("SIGINT", () => void stop(10_000));
process.on("SIGTERM", () => void stop(10_000));
process.on("SIGHUP", () => {}); // reloads are the primary's business
process.on("disconnect", () => void stop(1000));
process.on("uncaughtException", (err) => {
  log.error("worker crashed", { err });
  process.exit(1);
});
// Ready for a config: the primary sends it on this word (or when it has one).
tell({ type: "up" });
