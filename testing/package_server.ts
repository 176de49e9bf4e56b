/**
 * The package the way a JSR user gets it: exactly the files
 * `deno publish --dry-run` lists, served read-only over HTTP on 127.0.0.1,
 * with a log of what was requested.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
/** Bound on the files of the package (it has about a hundred). */
const MAX_FILES = 2000;

/** Paths (relative to the package root) of the files `deno publish --dry-run` would publish. */
export async function publishedFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: decodeURIComponent(ROOT.pathname),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `deno publish --dry-run failed:\n${text}`);
  const files: string[] = [];
  for (const m of text.matchAll(/^\s+(file:\/\/\S+) \(/gm)) {
    const url = new URL(m[1]);
    assert(url.href.startsWith(ROOT.href), `published file outside the package: ${url.href}`);
    files.push(url.href.slice(ROOT.href.length));
    assert(files.length <= MAX_FILES, `more than ${MAX_FILES} published files`);
  }
  assert(files.length > 0, `no file listed by deno publish --dry-run:\n${text}`);
  return files;
}

/** The bytes of `files` (paths relative to the package root), by path. */
export function readPackage(files: string[]): Map<string, Uint8Array<ArrayBuffer>> {
  return new Map(files.map((f) => [f, Deno.readFileSync(new URL(f, ROOT))]));
}

/** A running server of a package. */
export interface PackageServer {
  /** Base URL of the package, ending in `/`. */
  url: string;
  /** `host:port`, for `--allow-net` and `--allow-import`. */
  host: string;
  /** Paths requested so far, in order (with a leading `/`). */
  requests: string[];
  /** Stops serving. */
  close(): Promise<void>;
}

/**
 * Serves `files` (path -> bytes) on 127.0.0.1 at a free port; anything else
 * is 404. A request for a path in `hang` is never answered (until the
 * client gives up or the server closes), like a server that stalls.
 */
export function servePackage(
  files: Map<string, Uint8Array<ArrayBuffer>>,
  hang: ReadonlySet<string> = new Set(),
): PackageServer {
  const requests: string[] = [];
  const stalled = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    requests.push(path);
    if (hang.has(path.slice(1))) return stall(req, stalled);
    const body = files.get(path.slice(1));
    if (req.method !== "GET" || body === undefined) {
      return new Response("not found", { status: 404 });
    }
    const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
    return new Response(body, { headers: { "content-type": type } });
  });
  const host = `127.0.0.1:${server.addr.port}`;
  return {
    url: `http://${host}/`,
    host,
    requests,
    close: async () => {
      for (const answer of stalled) answer();
      await server.shutdown();
    },
  };
}

/** A response given only when the client disconnects or `stalled` is answered (at close). */
function stall(req: Request, stalled: Set<() => void>): Promise<Response> {
  return new Promise((resolve) => {
    const answer = () => {
      stalled.delete(answer);
      resolve(new Response("gave up", { status: 503 }));
    };
    stalled.add(answer);
    req.signal.addEventListener("abort", answer);
  });
}
