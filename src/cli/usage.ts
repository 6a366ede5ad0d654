export const MAIN_HELP = `wharf — a web server and reverse proxy for Python web applications

Usage:
  wharf serve [DIR] [options]      serve static files from DIR (default .)
  wharf run [--config FILE]        run from a config file (default ./wharf.yaml)
  wharf validate [--config FILE]   check a config file; prints "ok" or its errors
  wharf --version                  print the version
  wharf --help                     this help; every command also takes --help

Signals: SIGHUP reloads the config (wharf run); SIGTERM/SIGINT drain and stop.
`;

export const SERVE_HELP = `Usage: wharf serve [DIR] [options]

Serves the files in DIR (default .) over HTTP/1.1.

Options:
  --listen ADDR    address to listen on (default localhost:8080); :8080 means every interface
  --workers N      worker processes (default: one per CPU)
  --quiet          no access log
  --browse         list directories that have no index.html
  --spa            answer paths that match no file with /index.html (single-page apps)
  --help           this help
`;

export const RUN_HELP = `Usage: wharf run [--config FILE]

Runs wharf from a config file: wharf.yaml, or wharf.config.ts exporting defineConfig({...}).
Default: ./wharf.yaml. SIGHUP reloads the file; a config that does not validate is refused
and the running one keeps serving.

Options:
  --config FILE    the config file
  --help           this help
`;

export const VALIDATE_HELP = `Usage: wharf validate [--config FILE]

Checks a config file and prints "ok", or each problem as file:line:col: key.path: message.
Exits 0 when valid, 1 when not.

Options:
  --config FILE    the config file (default ./wharf.yaml)
  --help           this help
`;
