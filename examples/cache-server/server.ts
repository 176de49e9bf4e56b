/**
 * A key-value cache over HTTP whose data is a PreservedMap (keys, values
 * and index in arena pages), and that upgrades itself without downtime: on
 * SIGHUP or `POST /admin/upgrade` it starts its successor (this file again,
 * or a newer one with `--successor-script`), which listens on the same
 * port (SO_REUSEPORT) and holds requests; the old process then forwards
 * the requests it still receives to the successor, hands its map over (the
 * same pages, nothing copied or rebuilt), and exits once the successor
 * says it is ready. `--mode snapshot` restarts the usual way instead: the
 * map written to a file and read back (snapshot.ts).
 *
 *   PUT /kv/:key    GET /kv/:key    DELETE /kv/:key    GET /stats
 *   POST /admin/upgrade    POST /admin/fill?count=N&size=B    POST /admin/stop
 *
 * Run: deno run -A --unstable-net server.ts --port 8080 --arena /dev/shm/cache.arena
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LiveUpdate, LiveUpdateError, PreservedMap } from "../../mod.ts";
import { readSnapshot, writeSnapshot } from "./snapshot.ts";
import { fillValue, preserveState, restoreState } from "./state.ts";

const SESSION = "cache-server";
const MiB = 1 << 20;

const { values: opt } = parseArgs({
  options: {
    port: { type: "string" },
    arena: { type: "string" },
    capacity: { type: "string", default: String(64 * MiB) },
    successor: { type: "boolean" },
    "successor-script": { type: "string" },
    generation: { type: "string", default: "1" },
    mode: { type: "string", default: "luo" },
  },
});
if (!opt.port || !opt.arena) {
  console.error("usage: server.ts --port P --arena PATH [--capacity BYTES] [--mode luo|snapshot]");
  Deno.exit(2);
}
const port = Number(opt.port);
const capacity = Number(opt.capacity);
const mode = opt.mode === "snapshot" ? "snapshot" : "luo";
const generation = Number(opt.generation);
// Values and keys, as much again for overwritten ones not reclaimed yet, the index.
const arenaSize = Math.ceil((capacity * 2.5 + 64 * MiB) / MiB) * MiB;

/** Writes one handshake line for the predecessor (stdout) or a log line (stderr). */
function emit(event: Record<string, unknown>): void {
  console.log(JSON.stringify(event));
}
function log(msg: string): void {
  console.error(`cache-server[gen ${generation} pid ${Deno.pid}] ${msg}`);
}

let luo: LiveUpdate | null = null;
let store: PreservedMap | null = null;
let incomingNumber = 0n;
let forwardTo = 0; // private port of the successor, once it listens
let upgrading = false;
let restoreMs = 0;
let resolveReady!: () => void;
const ready = new Promise<void>((r) => (resolveReady = r));
const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

/** Sends a request on to the successor (`body` when it was read already). */
async function forward(req: Request, url: URL, body?: BodyInit): Promise<Response> {
  if (body === undefined && req.method !== "GET" && req.method !== "HEAD") {
    body = await req.arrayBuffer();
  }
  try {
    return await fetch(`http://127.0.0.1:${forwardTo}${url.pathname}${url.search}`, {
      method: req.method,
      body,
      client,
    });
  } catch (e) {
    // A failed upgrade killed the successor: the request is served here.
    if (forwardTo === 0) return await handle(new Request(req.url, { method: req.method, body }));
    throw e;
  }
}

const headers = { "x-generation": String(generation) };
const json = (o: unknown, status = 200) =>
  new Response(JSON.stringify(o), {
    status,
    headers: { ...headers, "content-type": "application/json" },
  });

async function handle(req: Request): Promise<Response> {
  await ready;
  const url = new URL(req.url);
  if (forwardTo && !url.pathname.startsWith("/admin/")) return await forward(req, url);
  const kv = url.pathname.match(/^\/kv\/(.+)$/);
  if (kv) {
    const key = decodeURIComponent(kv[1]);
    if (req.method === "GET") {
      const v = store!.get(key);
      return v
        ? new Response(v.slice(), { headers })
        : new Response("not found\n", { status: 404, headers });
    }
    if (req.method === "PUT") {
      const body = new Uint8Array(await req.arrayBuffer());
      // The upgrade may have started while the body was arriving.
      if (forwardTo) return await forward(req, url, body);
      try {
        store!.set(key, body);
      } catch (e) {
        if (!(e instanceof LiveUpdateError)) throw e;
        const full = e.code === "ENOMEM" || e.code === "ENOSPC";
        return new Response(`${e.message}\n`, { status: full ? 507 : 400, headers });
      }
      return new Response(null, { status: 204, headers });
    }
    if (req.method === "DELETE") {
      return new Response(null, { status: store!.delete(key) ? 204 : 404, headers });
    }
    return new Response("method not allowed\n", { status: 405, headers });
  }
  if (url.pathname === "/stats") {
    return json({
      generation,
      pid: Deno.pid,
      mode,
      keys: store!.size,
      liveBytes: store!.stats().liveBytes,
      liveupdateNumber: String(incomingNumber),
      restoreMs,
      uptimeMs: performance.now(),
    });
  }
  if (url.pathname === "/admin/upgrade" && req.method === "POST") return json(await upgrade());
  if (url.pathname === "/admin/fill" && req.method === "POST") {
    const count = Number(url.searchParams.get("count") ?? 0);
    const size = Number(url.searchParams.get("size") ?? 100);
    const prefix = url.searchParams.get("prefix") ?? "key";
    for (let i = 0; i < count; i++) store!.set(`${prefix}-${i}`, fillValue(i, size));
    return json({ filled: count, keys: store!.size });
  }
  if (url.pathname === "/admin/stop" && req.method === "POST") {
    setTimeout(() => stop(), 10);
    return json({ stopping: true });
  }
  return new Response("not found\n", { status: 404, headers });
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
}

async function nextEvent(
  it: AsyncGenerator<string>,
  want: string,
): Promise<Record<string, unknown>> {
  for (;;) {
    const { value, done } = await it.next();
    if (done) throw new Error(`successor exited before "${want}"`);
    const ev = JSON.parse(value);
    if (ev.event === want) return ev;
    if (ev.event === "error") throw new Error(`successor failed: ${ev.message}`);
  }
}

/** Starts this server again as the successor, on arena `next`; it waits for "go". */
function spawnSuccessor(next: string): Deno.ChildProcess {
  const script = opt["successor-script"] ?? import.meta.filename!;
  const args = ["--port", String(port), "--arena", next, "--capacity", String(capacity)];
  args.push("--successor", "--generation", String(generation + 1), "--mode", mode);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--unstable-net", script, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function upgrade(): Promise<Record<string, unknown>> {
  if (upgrading) return { error: "an upgrade is already running" };
  upgrading = true;
  const t0 = performance.now();
  const next = mode === "luo" ? opt.arena! : `${opt.arena}.gen${generation + 1}`;
  const child = spawnSuccessor(next);
  const events = lines(child.stdout);
  const listening = await nextEvent(events, "listening");
  const spawnMs = performance.now() - t0;
  // From here, requests that reach this process go to the successor, which
  // holds them until ready; and this process stops listening on the shared
  // port (with net.ipv4.tcp_migrate_req=1 the kernel moves connections still
  // queued on our listener to the successor's).
  forwardTo = Number(listening.privatePort);
  const t1 = performance.now();
  try {
    handOverState(next);
  } catch (e) {
    // Nothing was handed over: serve on, and let the successor go.
    forwardTo = 0;
    upgrading = false;
    child.kill("SIGKILL");
    await child.status;
    log(`upgrade failed, still serving: ${(e as Error).message}`);
    return { error: `upgrade failed, still serving: ${(e as Error).message}` };
  }
  const handoverMs = performance.now() - t1;
  const closing = pub.shutdown();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  const readyEv = await nextEvent(events, "ready");
  child.unref();
  const report = {
    from: generation,
    to: readyEv.generation,
    mode,
    spawnMs,
    handoverMs,
    successorRestoreMs: readyEv.restoreMs,
    successorStartToReadyMs: readyEv.startToReadyMs,
    upgradeMs: performance.now() - t0,
    keys: readyEv.keys,
    liveupdateNumber: readyEv.liveupdateNumber,
  };
  log(`handed over to pid ${child.pid} in ${handoverMs.toFixed(1)} ms; exiting`);
  // Exit once every request still in flight here (this one included) is answered.
  closing.then(() => stop());
  return report;
}

/**
 * Hands the state over (a live update) or writes it out (a snapshot);
 * on failure nothing is handed over and this process keeps the state.
 */
function handOverState(next: string): void {
  if (mode === "luo") {
    const session = luo!.createSession(SESSION);
    try {
      preserveState(session, luo!.arena, store!, generation);
      luo!.handover(); // closes the arena: the successor may open it
    } catch (e) {
      session.close(); // gives the map back to this process
      throw e;
    }
  } else {
    try {
      writeSnapshot(store!, `${next}.snapshot`);
    } catch (e) {
      Deno.removeSync(`${next}.snapshot`, { recursive: true });
      throw e;
    }
    luo!.close();
    Deno.removeSync(luo!.arena.path);
  }
}

/**
 * The handed-over store: retrieved, its session finished, anything else
 * handed over released. A state that cannot be used is an error (the
 * server stops, the image stays for `luo inspect`), never an empty start.
 */
function resume(luo: LiveUpdate): PreservedMap {
  incomingNumber = luo.incomingNumber;
  const session = luo.retrieveSession(SESSION);
  const r = restoreState(session);
  session.finish();
  for (const s of r.skipped) log(`warning: skipped unknown manifest entry ${s}`);
  luo.releaseUnclaimed();
  return r.map;
}

let servers: Deno.HttpServer[] = [];
async function stop(): Promise<void> {
  await Promise.all(servers.map((s) => s.shutdown()));
  client.close();
  Deno.exit(0);
}

// Listen first (the kernel spreads new connections over both processes);
// requests wait for `ready`.
const pub = Deno.serve({ port, hostname: "127.0.0.1", reusePort: true, onListen() {} }, handle);
const priv = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handle);
servers = [pub, priv];
Deno.addSignalListener("SIGHUP", () => void upgrade());

try {
  if (opt.successor) {
    emit({ event: "listening", privatePort: priv.addr.port, pid: Deno.pid });
    const stdin = lines(Deno.stdin.readable);
    const go = await stdin.next();
    if (go.value !== "go") throw new Error("the predecessor did not hand over");
    const t = performance.now();
    if (mode === "luo") {
      luo = LiveUpdate.start(opt.arena, { size: arenaSize });
      if (!luo.resumed) throw new Error(`${opt.arena}: the predecessor handed nothing over`);
      store = resume(luo);
    } else {
      luo = LiveUpdate.create({ path: opt.arena, size: arenaSize });
      store = readSnapshot(luo.arena, `${opt.arena}.snapshot`);
      Deno.removeSync(`${opt.arena}.snapshot`);
    }
    restoreMs = performance.now() - t;
  } else {
    // A first start creates the arena; a restart after a crash finds the
    // state handed over last (kept published until our own handover) and
    // resumes it. Any other error (the arena held by a live server, no
    // permission, a damaged image) stops here, the file untouched.
    luo = LiveUpdate.start(opt.arena, { size: arenaSize });
    store = luo.resumed ? resume(luo) : PreservedMap.create(luo.arena);
  }
  resolveReady();
  emit({
    event: "ready",
    generation,
    pid: Deno.pid,
    port,
    keys: store.size,
    restoreMs,
    startToReadyMs: performance.now(), // since this process started
    liveupdateNumber: String(incomingNumber),
  });
} catch (e) {
  emit({ event: "error", message: (e as Error).message });
  log(`failed: ${(e as Error).stack}`);
  Deno.exit(1);
}
