// Entry point of a worker process: serves whatever config the primary sends it.
import { createLogger } from "../core/logger.ts";
import { WorkerTls } from "../tls/worker-tls.ts";
import type { ToPrimary, ToWorker } from "./messages.ts";
import { ServerHost } from "./runtime.ts";
import { SharedClient } from "./shared-client.ts";

const log = createLogger({ fields: { pid: process.pid, worker: Number(process.env.WHARF_WORKER_ID ?? 0) } });
const tls = new WorkerTls(log);
tls.askPrimary = (name) => tell({ type: "cert-request", name });
const shared = new SharedClient(tell);
const host = new ServerHost(log, tls, shared);
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
  switch (msg.type) {
    case "config":
      log.setLevel(msg.config.server.log_level);
      host.apply(msg.config).then(
        () => tell({ type: "ready", seq: msg.seq, addresses: host.boundAddresses() }),
        (err: NodeJS.ErrnoException) =>
          tell({ type: "failed", seq: msg.seq, error: err.message, code: err.code }),
      );
      return;
    case "shutdown":
      return void stop(msg.timeout);
    case "ticket-keys":
      return host.setTicketKeys(Buffer.from(msg.keys, "hex"));
    case "acme-http01":
      return tls.setChallenge(msg.token, msg.keyAuthorization);
    case "acme-tlsalpn01":
      return tls.setAlpnChallenge(msg.name, msg.cert, msg.key);
    case "ondemand-cert":
      return tls.setOnDemandCert(msg.name, msg.cert, msg.key);
    case "shared-reply":
    case "shared-event":
      return shared.receive(msg);
    case "stats":
      return tell({ type: "stats-reply", id: msg.id, stats: host.stats() });
    case "drained":
      return host.ctx.upstreams.setDrained(msg.urls);
    case "reopen-logs":
      return host.reopenLogs();
  }
});
// A terminal's Ctrl-C reaches the whole process group: drain as for the primary's word,
// with the running config's grace period.
process.on("SIGINT", () => void stop(host.shutdownTimeout));
process.on("SIGTERM", () => void stop(host.shutdownTimeout));
process.on("SIGHUP", () => {}); // reloads are the primary's business
// Log reopening is the primary's word too (it tells every worker); handling the signal
// also keeps Node from starting its inspector on it.
process.on("SIGUSR1", () => {});
process.on("disconnect", () => void stop(1000));
process.on("uncaughtException", (err) => {
  log.error("worker crashed", { err });
  process.exit(1);
});
// Ready for a config: the primary sends it on this word (or when it has one).
tell({ type: "up" });
