import { join } from "node:path";
import { freePort, ROOT, type Running, startWharf } from "../helpers/wharf.ts";

/** Starts the example site exactly as `npm start` does, on a free port. */
export async function startExampleSite(): Promise<Running> {
  const port = await freePort();
  return startWharf(["run", "--config", join(ROOT, "examples/wharf.yaml")], {
    port,
    env: { WHARF_LISTEN: `127.0.0.1:${port}` },
  });
}
