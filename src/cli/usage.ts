export const MAIN_HELP = `wharf — a web server and reverse proxy for Python web applications

Usage:
  wharf serve [DIR] [options]      serve static files from DIR (default .), --static
                                   PREFIX=DIR mounts, and an --app behind them
  wharf proxy --to URL[,URL...]    reverse proxy to app servers (or --app "COMMAND")
  wharf run [--config FILE]        run from a config file (default ./wharf.yaml)
  wharf validate [--config FILE]   check a config file; prints "ok" or its errors
  wharf trust                      install the internal CA's root for browsers (NSS) and,
                                   as root, into the system's trust store
  wharf hash-password              hash a password for basic_auth (from stdin, or asked)
  wharf status|reload|deploy       steer a running server through its admin API
  wharf upstreams [drain|undrain URL], wharf purge URL [--prefix]   (see wharf status --help)
  wharf storage export|import      copy certificates, keys and accounts out of or into the
                                   storage (data directory or Redis), as JSON lines
  wharf --version                  print the version
  wharf --help                     this help; every command also takes --help

Signals: SIGHUP reloads the config (wharf run); SIGUSR1 reopens the log files;
SIGTERM/SIGINT drain and stop.
`;

export const SERVE_HELP = `Usage: wharf serve [DIR] [options]

Serves the files in DIR (default ., unless --static is given) over HTTP/1.1; with
--tls-cert, --tls internal or --domain, over HTTPS with HTTP/2 and HTTP/1.1.

Options:
  --static PREFIX=DIR  serve DIR's files under the URL PREFIX (repeatable), e.g.
                   --static /static/=./staticfiles --static /media/=./media
                   (/static/css/a.css is ./staticfiles/css/a.css)
  --app "COMMAND"  also start COMMAND and pass every request that matches no file to
                   it; wharf replaces {socket} with unix:/path.sock (as gunicorn -b takes
                   it), {socket_path} with the bare path, or {port} with a free port, e.g.
                   --app "gunicorn -b {socket} mysite.wsgi"
  --listen ADDR    address to listen on (default localhost:8080); :8080 means every interface
  --workers N      worker processes (default: one per CPU)
  --quiet          no access log
  --tls-cert FILE  serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate chain …
  --tls-key FILE   … and this PEM private key
  --tls internal   HTTPS (HTTP/2 and HTTP/1.1) with a certificate from wharf's own CA
                   (see wharf trust)
  --domain NAME    automatic HTTPS for NAME (repeatable): certificates from Let's Encrypt
                   (or --acme-ca URL), renewed by themselves; --listen then defaults to
                   :443, and --http-listen ADDR (default :80) answers challenges and
                   redirects to https
  --browse         list directories that have no index.html
  --spa            answer paths that match no file with /index.html (single-page apps)
  --help           this help

A Django deployment: static files from collectstatic under /static/, uploads under
/media/, everything else to gunicorn, which wharf starts and supervises:
  wharf serve --static /static/=./staticfiles --static /media/=./media \\
              --app "gunicorn -b {socket} mysite.wsgi"
`;

export const PROXY_HELP = `Usage: wharf proxy --to URL[,URL...] [options]
       wharf proxy --app "COMMAND" [options]

Passes every request to the upstreams (round robin, with passive health checks and
retries). Upstream addresses: http://host:port, https://host:port, unix:/path.sock,
uwsgi://host:port, uwsgi+unix:/path, fastcgi://host:port, fastcgi+unix:/path.

Options:
  --to URL[,URL...]  upstreams (the flag may be repeated)
  --app "COMMAND"    start COMMAND, supervise it and proxy to it; {socket} becomes
                     unix:/path.sock, {socket_path} the bare path, {port} a free port,
                     e.g. --app "gunicorn -b {socket} myapp:app"
  --listen ADDR      address to listen on (default localhost:8080)
  --workers N        worker processes (default: one per CPU)
  --quiet            no access log
  --tls-cert FILE    serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate …
  --tls-key FILE     … and this private key
  --help             this help
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

export const TRUST_HELP = `Usage: wharf trust

Creates wharf's internal certificate authority if it does not exist yet (used by
\`tls: internal\` and \`wharf serve --tls internal\`), prints the path of its root
certificate, and, when run as root, installs it into the system trust store
(/usr/local/share/ca-certificates + update-ca-certificates). Browsers with their own
store (Firefox, Chromium's NSS database) need it imported there too.
`;

export const HASH_PASSWORD_HELP = `Usage: wharf hash-password [--algorithm scrypt|argon2id]

Reads a password (the first line of stdin, or asked twice at a terminal, not echoed) and
prints its salted hash for basic_auth's users: scrypt (N=2^15, r=8, p=1) by default, or
Argon2id (19 MiB, 2 passes). basic_auth also takes bcrypt ($2y$) and apr1 lines from an
existing htpasswd file.

  echo 'correct horse' | wharf hash-password
`;

export const ADMIN_HELP = `Usage: wharf status    [--config FILE] [--admin ADDR] [--json]
       wharf reload    [--config FILE] [--admin ADDR]
       wharf deploy    [--config FILE] [--admin ADDR]
       wharf upstreams [drain|undrain URL] [--config FILE] [--admin ADDR] [--json]
       wharf purge URL [--prefix] [--config FILE] [--admin ADDR]

Talk to the server \`wharf run\` started from the same config, through its admin API (a
unix socket under the runtime directory unless server.admin.listen says otherwise):

  status     pid, uptime, workers, upstreams and certificates
  reload     re-read the config file (as SIGHUP does); its errors are printed if refused
  deploy     restart the supervised apps blue-green: the new process starts, answers its
             ready_path, takes the new requests; the old one finishes its own, then stops
  upstreams  each upstream's health, in-flight requests and failures; drain URL sends it
             no new requests (its in-flight ones finish), undrain takes it back
  purge      drop URL from the cache (every variant); --prefix drops every URL under it

Options:
  --config FILE    the config the server runs (default ./wharf.yaml)
  --admin ADDR     the admin API's address instead (unix:/path.sock or host:port)
  --json           print the API's JSON answer
  The token for a TCP admin listener comes from the config or WHARF_ADMIN_TOKEN.
`;

export const STORAGE_HELP = `Usage: wharf storage export [--config FILE] [--dir DIR] > dump.jsonl
       wharf storage import [--config FILE] [--dir DIR] < dump.jsonl

Copies what lasts in wharf's storage (certificates and their keys, ACME accounts,
session-ticket keys) out of it or into it, one {"key", "value"} JSON object a line. The
storage is the one the config names (server.storage.redis, else its data directory);
--dir DIR takes a data directory instead. Locks, challenge answers and rate-limit
counters are not copied.

Moving a single server's certificates into Redis before starting more instances:
  wharf storage export --dir /var/lib/wharf | wharf storage import --config wharf.yaml
`;
