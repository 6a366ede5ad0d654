import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "../helpers/http.ts";
import { needs } from "../helpers/tools.ts";
import { freePort, makeTree, startWharf } from "../helpers/wharf.ts";

// The README's Flask (gunicorn) and FastAPI (uvicorn) recipes, each as a command line and
// as a wharf.yaml, on Debian's packages: static files from wharf, the rest from the app.

const FLASK_APP = `from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
# wharf says who the client is and how it came in (X-Forwarded-For, -Proto, -Host):
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)

@app.route("/")
def index():
    return f"flask: {request.scheme}://{request.host} for {request.remote_addr}"
`;

const FASTAPI_APP = `from fastapi import FastAPI, Request

app = FastAPI()

@app.get("/")
def index(request: Request):
    # On a unix socket uvicorn knows no client address: wharf's X-Forwarded-* say it.
    return {
        "framework": "fastapi",
        "client": request.headers.get("x-forwarded-for"),
        "scheme": request.headers.get("x-forwarded-proto"),
    }
`;

const recipes = [
  {
    name: "Flask under gunicorn",
    needs: needs("gunicorn", "python3:flask"),
    file: "app.py",
    source: FLASK_APP,
    command: "gunicorn -b {socket} app:app",
    check: (body: string, port: number) =>
      assert.equal(body, `flask: http://127.0.0.1:${port} for 127.0.0.1`),
  },
  {
    name: "FastAPI under uvicorn",
    needs: needs("uvicorn", "python3:fastapi"),
    file: "main.py",
    source: FASTAPI_APP,
    command: "uvicorn --uds {socket_path} main:app",
    check: (body: string) =>
      assert.deepEqual(JSON.parse(body), { framework: "fastapi", client: "127.0.0.1", scheme: "http" }),
  },
];

for (const r of recipes) {
  for (const form of ["command line", "wharf.yaml"] as const) {
    test(`the README's ${r.name} recipe, as a ${form}`, r.needs, async () => {
      const tree = makeTree({ [r.file]: r.source, "static/style.css": "h1 { color: teal }\n" });
      const port = await freePort();
      let args: string[];
      if (form === "command line") {
        args = [
          "serve",
          "--static",
          "/static/=./static",
          "--app",
          r.command,
          "--listen",
          "127.0.0.1:{port}",
          "--workers",
          "1",
          "--quiet",
        ];
      } else {
        writeFileSync(
          join(tree.dir, "wharf.yaml"),
          `sites:
  - listen: ["127.0.0.1:${port}"]
    access_log: off
    routes:
      - match: { path: /static }
        static: { root: ./static, strip_prefix: /static }
      - proxy:
          app: { command: "${r.command.replaceAll('"', '\\"')}" }
`,
        );
        args = ["run"];
      }
      const w = await startWharf(args, { cwd: tree.dir, port });
      try {
        const css = await request(w.base, "/static/style.css");
        assert.equal(css.status, 200);
        assert.equal(css.body.toString(), "h1 { color: teal }\n");
        assert.match(String(css.headers["content-type"]), /^text\/css/);
        const page = await request(w.base, "/");
        assert.equal(page.status, 200, page.body.toString());
        r.check(page.body.toString(), port);
      } finally {
        assert.equal(await w.stop(), 0);
        tree.cleanup();
      }
    });
  }
}
