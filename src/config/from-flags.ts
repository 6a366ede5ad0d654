import { validateConfigObject } from "./load.ts";
import type { WharfConfig } from "./types.ts";

export interface ServeFlags {
  dir: string;
  listen: string;
  workers: number | "auto";
  quiet: boolean;
  browse: boolean;
  spa: boolean;
}

/** The canonical config `wharf serve DIR …` stands for: one default site serving DIR. */
export function serveConfig(flags: ServeFlags, cwd: string): WharfConfig {
  return validateConfigObject(
    {
      server: { workers: flags.workers },
      sites: [
        {
          listen: [flags.listen],
          access_log: flags.quiet ? false : { format: "combined", output: "stdout" },
          routes: [
            { static: { root: flags.dir, browse: flags.browse, spa: flags.spa ? "/index.html" : false } },
          ],
        },
      ],
    },
    "command line",
    cwd,
  );
}
