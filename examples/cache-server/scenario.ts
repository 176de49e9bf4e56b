/**
 * The end-to-end scenario: start the cache server (generation 1), preload
 * keys, run a steady stream of requests from this process, upgrade the
 * server several times in a row while the load runs, then check that no
 * request failed and that every key reads back as written.
 *
 * @module
 */

import { Client, equal, type Load, preload, preloadKey, type Sample, worker } from "./load.ts";
import { fillValue } from "./state.ts";

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  keys: number;
  valueSize: number;
  upgrades: number;
  concurrency: number;
  mode: "luo" | "snapshot";
  /** Steady-state time before the first upgrade and between upgrades. */
  gapMs: number;
  /** Upper bound on requests sent (the load also stops after the last upgrade). */
  maxRequests: number;
  /** Upper bound on the whole run. */
  maxMs: number;
  log?: (msg: string) => void;
}

/** What the scenario measured. */
export interface ScenarioReport {
  mode: string;
  keys: number;
  valueBytes: number;
  requests: number;
  failures: number;
  failureSamples: string[];
  /** Idempotent requests retried once after their connection closed unanswered. */
  connectionRetries: number;
  steadyP99Ms: number;
  upgradeP99Ms: number;
  steadyRequests: number;
  upgradeRequests: number;
  upgrades: Record<string, unknown>[];
  finalGeneration: number;
  finalLiveupdateNumber: string;
  keysVerified: number;
  keyMismatches: number;
  migrateReq: boolean;
  seconds: number;
}

const SERVER = new URL("./server.ts", import.meta.url).pathname;

/**
 * The `deno` arguments that run server.ts on `port` over `arena`, sized
 * for `capacity` bytes of values, with any further server options.
 */
export function serverArgs(
  port: number,
  arena: string,
  capacity: number,
  ...more: string[]
): string[] {
  const where = ["--port", String(port), "--arena", arena, "--capacity", String(capacity)];
  return ["run", "-A", "--unstable-net", SERVER, ...where, ...more];
}

/** A TCP port free on loopback right now. */
export function freePort(): number {
  const l = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Linux drops the queued connections of a closing SO_REUSEPORT listener unless this is on. */
function enableMigrateReq(): boolean {
  if (Deno.env.get("LUO_NO_MIGRATE_REQ") === "1") return false; // to measure without it
  try {
    Deno.writeTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "1");
  } catch { /* not root, or another kernel */ }
  try {
    return Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req").trim() === "1";
  } catch {
    return false;
  }
}

function p99(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))];
}

/** Starts generation 1 of the server and waits until it says it is ready. */
async function startServer(o: ScenarioOptions, port: number, arena: string): Promise<void> {
  const capacity = 2 ** Math.ceil(Math.log2(o.keys * o.valueSize * 1.25 + 64 * (1 << 20)));
  const gen1 = new Deno.Command(Deno.execPath(), {
    args: serverArgs(port, arena, capacity, "--mode", o.mode),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = gen1.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes('"ready"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error("generation 1 did not start");
    out += value;
  }
  reader.releaseLock();
  gen1.stdout.cancel().catch(() => {});
  gen1.unref();
}

/** Upgrades the server `o.upgrades` times, `o.gapMs` apart; returns each upgrade and its window. */
async function upgradeAll(o: ScenarioOptions, client: Client, log: (m: string) => void) {
  const windows: [number, number][] = [];
  const upgrades: Record<string, unknown>[] = [];
  await new Promise((r) => setTimeout(r, o.gapMs));
  for (let u = 0; u < o.upgrades; u++) {
    const start = performance.now();
    const report = await (await client.req("/admin/upgrade", { method: "POST" })).json();
    // The window ends when the old process is gone: wait until every answer comes from the new one.
    for (let k = 0; k < 200; k++) {
      const gen = Number((await (await client.req("/stats")).json()).generation);
      if (gen === report.to) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    windows.push([start, performance.now()]);
    upgrades.push({ ...report, windowMs: performance.now() - start, trigger: start });
    const ms = Number(report.handoverMs).toFixed(1);
    log(`upgrade ${u + 1}: generation ${report.from} -> ${report.to}, handover ${ms} ms`);
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  return { windows, upgrades };
}

/** Reads back a sample of the preloaded keys and every key the workers own; returns the counts. */
async function verifyKeys(
  o: ScenarioOptions,
  client: Client,
  owned: Map<string, Uint8Array | null>[],
  failures: string[],
): Promise<{ verified: number; mismatches: number }> {
  let verified = 0;
  let mismatches = 0;
  const check = async (path: string, want: Uint8Array | null) => {
    const res = await client.req(path);
    const body = new Uint8Array(await res.arrayBuffer());
    verified++;
    const ok = want ? res.status === 200 && equal(body, want) : res.status === 404;
    if (!ok && mismatches++ < 5) failures.push(`final check ${path} -> ${res.status}`);
  };
  const step = Math.max(1, Math.floor(o.keys / 5000));
  for (let i = 0; i < o.keys; i += step) {
    const [key, j] = preloadKey(i);
    await check(`/kv/${key}`, fillValue(j, o.valueSize));
  }
  for (const mine of owned) for (const [key, want] of mine) await check(`/kv/${key}`, want);
  return { verified, mismatches };
}

/** The p99 latencies during and outside the upgrade windows, and each upgrade's first answer. */
function latencies(
  samples: Sample[],
  windows: [number, number][],
  upgrades: Record<string, unknown>[],
) {
  for (const u of upgrades) {
    // Time from the upgrade request to the first answer from the new generation.
    const first = samples.filter((s) => s.gen === u.to && s.end >= (u.trigger as number))
      .reduce((m, s) => Math.min(m, s.end), Infinity);
    u.firstAnswerMs = Number.isFinite(first) ? first - (u.trigger as number) : null;
    delete u.trigger;
  }
  const during = (s: Sample) => windows.some(([a, b]) => s.end >= a && s.start <= b);
  const up = samples.filter(during).map((s) => s.end - s.start);
  const steady = samples.filter((s) => !during(s)).map((s) => s.end - s.start);
  return {
    steadyP99Ms: p99(steady),
    upgradeP99Ms: p99(up),
    steadyRequests: steady.length,
    upgradeRequests: up.length,
  };
}

/** Runs the scenario; the server processes are gone when it returns. */
export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const log = o.log ?? (() => {});
  const migrateReq = enableMigrateReq();
  const port = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "luo-cache-", dir: arenaDir() });
  const client = new Client(`http://127.0.0.1:${port}`);
  const t0 = performance.now();
  await startServer(o, port, `${dir}/cache.arena`);
  try {
    log(`generation 1 on port ${port}; preloading ${o.keys} keys of ${o.valueSize} bytes`);
    await preload(client, o.keys, o.valueSize);
    const load: Load = {
      client,
      keys: o.keys,
      valueSize: o.valueSize,
      samples: [],
      failures: [],
      stop: false,
      more: () => load.samples.length < o.maxRequests && performance.now() - t0 < o.maxMs,
    };
    const workers = Array.from({ length: o.concurrency }, (_, w) => worker(load, w));
    const { windows, upgrades } = await upgradeAll(o, client, log);
    load.stop = true;
    const owned = await Promise.all(workers);
    const stats = await (await client.req("/stats")).json();
    const { verified, mismatches } = await verifyKeys(o, client, owned, load.failures);
    return {
      mode: o.mode,
      keys: o.keys,
      valueBytes: o.keys * o.valueSize,
      requests: load.samples.length,
      failures: load.samples.filter((s) => !s.ok).length,
      failureSamples: load.failures,
      connectionRetries: client.retries,
      ...latencies(load.samples, windows, upgrades),
      upgrades,
      finalGeneration: stats.generation,
      finalLiveupdateNumber: stats.liveupdateNumber,
      keysVerified: verified,
      keyMismatches: mismatches,
      migrateReq,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await stopServer(client);
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Asks the server to stop and closes the client. */
async function stopServer(client: Client): Promise<void> {
  try {
    const r = await client.req("/admin/stop", { method: "POST" });
    await r.body?.cancel();
  } catch { /* already gone */ }
  await new Promise((r) => setTimeout(r, 100));
  client.close();
}

/** /dev/shm when it is a directory (arenas in RAM), else the temp dir. */
function arenaDir(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}
