/**
 * The end-to-end scenario: start the cache server (generation 1), preload
 * keys, run a steady stream of requests from this process, upgrade the
 * server several times in a row while the load runs, then check that no
 * request failed and that every key reads back as written.
 *
 * @module
 */

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

interface Sample {
  start: number;
  end: number;
  ok: boolean;
  /** Generation that answered (0: none). */
  gen: number;
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

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs the scenario; the server processes are gone when it returns. */
export async function runScenario(o: ScenarioOptions): Promise<ScenarioReport> {
  const log = o.log ?? (() => {});
  const migrateReq = enableMigrateReq();
  const port = freePort();
  const dir = Deno.makeTempDirSync({ prefix: "luo-cache-", dir: arenaDir() });
  const base = `http://127.0.0.1:${port}`;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const t0 = performance.now();
  const capacity = 2 ** Math.ceil(Math.log2(o.keys * o.valueSize * 1.25 + 64 * (1 << 20)));
  const gen1 = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-net",
      SERVER,
      "--port",
      String(port),
      "--arena",
      `${dir}/cache.arena`,
      "--capacity",
      String(capacity),
      "--mode",
      o.mode,
    ],
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
  let retries = 0;
  const req = (path: string, init: RequestInit = {}) => fetch(base + path, { ...init, client });
  // RFC 9110 9.2.2: a client may retry an idempotent request whose connection
  // closed or was reset before any response (Deno.serve's graceful shutdown
  // closes a connection accepted but not yet read; without
  // net.ipv4.tcp_migrate_req the kernel resets connections still queued on a
  // closing SO_REUSEPORT listener). One retry, counted in the report.
  const send = async (path: string, init: RequestInit = {}) => {
    try {
      return await req(path, init);
    } catch (e) {
      const why = String((e as Error).cause ?? e);
      if (!/connection closed before message completed|connection reset|ECONNRESET/i.test(why)) {
        throw e;
      }
      retries++;
      return await req(path, init);
    }
  };
  try {
    log(`generation 1 on port ${port}; preloading ${o.keys} keys of ${o.valueSize} bytes`);
    for (let done = 0; done < o.keys;) {
      const n = Math.min(100_000, o.keys - done);
      const r = await req(`/admin/fill?count=${n}&size=${o.valueSize}&prefix=k${done}`, {
        method: "POST",
      });
      await r.body?.cancel();
      done += n;
    }
    // Fill used prefixes k0-i, k100000-i, ...: key i is `k${chunk}-${i - chunk}`.
    const keyOf = (i: number) => {
      const chunk = Math.floor(i / 100_000) * 100_000;
      return [`k${chunk}-${i - chunk}`, i - chunk] as const;
    };

    // The load: workers with their own keys, so that they know what each must read back.
    const samples: Sample[] = [];
    const failures: string[] = [];
    let stop = false;
    let sent = 0;
    const worker = async (w: number) => {
      const mine = new Map<string, Uint8Array | null>();
      for (let n = 0; !stop && sent < o.maxRequests && performance.now() - t0 < o.maxMs; n++) {
        sent++;
        const r = Math.random();
        const start = performance.now();
        let ok = false;
        let gen = 0;
        let what = "";
        const seen = (res: Response) => (gen = Number(res.headers.get("x-generation") ?? 0));
        try {
          if (r < 0.5) {
            const [key, j] = keyOf(Math.floor(Math.random() * o.keys));
            what = `GET ${key}`;
            const res = await send(`/kv/${key}`);
            seen(res);
            const body = new Uint8Array(await res.arrayBuffer());
            ok = res.status === 200 && equal(body, fillValue(j, o.valueSize));
            if (!ok) what += ` -> ${res.status}, ${body.length} bytes`;
          } else {
            const key = `w${w}-${n % 50}`;
            if (r < 0.8) {
              what = `GET ${key}`;
              const res = await send(`/kv/${key}`);
              seen(res);
              const body = new Uint8Array(await res.arrayBuffer());
              const want = mine.get(key);
              ok = want ? res.status === 200 && equal(body, want) : res.status === 404;
              if (!ok) what += ` -> ${res.status}`;
            } else if (r < 0.95) {
              const value = new TextEncoder().encode(`${key}=${n}-${"v".repeat(n % 40)}`);
              what = `PUT ${key}`;
              const res = await send(`/kv/${key}`, { method: "PUT", body: value });
              seen(res);
              await res.body?.cancel();
              ok = res.status === 204;
              if (ok) mine.set(key, value);
              else what += ` -> ${res.status}`;
            } else {
              what = `DELETE ${key}`;
              const res = await send(`/kv/${key}`, { method: "DELETE" });
              seen(res);
              await res.body?.cancel();
              ok = res.status === (mine.get(key) ? 204 : 404);
              if (ok) mine.set(key, null);
              else what += ` -> ${res.status}`;
            }
          }
        } catch (e) {
          what += ` -> ${(e as Error).message} (${(e as Error).cause ?? ""})`;
        }
        samples.push({ start, end: performance.now(), ok, gen });
        if (!ok && failures.length < 20) failures.push(what);
      }
      return mine;
    };
    const load = Array.from({ length: o.concurrency }, (_, w) => worker(w));

    const windows: [number, number][] = [];
    const upgrades: Record<string, unknown>[] = [];
    await new Promise((r) => setTimeout(r, o.gapMs));
    for (let u = 0; u < o.upgrades; u++) {
      const start = performance.now();
      const res = await req("/admin/upgrade", { method: "POST" });
      const report = await res.json();
      // The window ends when the old process is gone: wait until every answer comes from the new one.
      for (let k = 0; k < 200; k++) {
        const s = await req("/stats");
        const gen = Number((await s.json()).generation);
        if (gen === report.to) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      windows.push([start, performance.now()]);
      upgrades.push({ ...report, windowMs: performance.now() - start, trigger: start });
      log(
        `upgrade ${u + 1}: generation ${report.from} -> ${report.to}, handover ${
          Number(report.handoverMs).toFixed(1)
        } ms`,
      );
      await new Promise((r) => setTimeout(r, o.gapMs));
    }
    stop = true;
    const owned = await Promise.all(load);

    // Every key reads back as written.
    const stats = await (await req("/stats")).json();
    let verified = 0;
    let mismatches = 0;
    const check = async (path: string, want: Uint8Array | null) => {
      const res = await req(path);
      const body = new Uint8Array(await res.arrayBuffer());
      verified++;
      const ok = want ? res.status === 200 && equal(body, want) : res.status === 404;
      if (!ok && mismatches++ < 5) failures.push(`final check ${path} -> ${res.status}`);
    };
    const step = Math.max(1, Math.floor(o.keys / 5000));
    for (let i = 0; i < o.keys; i += step) {
      const [key, j] = keyOf(i);
      await check(`/kv/${key}`, fillValue(j, o.valueSize));
    }
    for (const mine of owned) for (const [key, want] of mine) await check(`/kv/${key}`, want);

    // Time from the upgrade request to the first answer from the new generation.
    for (const u of upgrades) {
      const first = samples.filter((s) => s.gen === u.to && s.end >= (u.trigger as number)).reduce(
        (m, s) => Math.min(m, s.end),
        Infinity,
      );
      u.firstAnswerMs = Number.isFinite(first) ? first - (u.trigger as number) : null;
      delete u.trigger;
    }
    const during = (s: Sample) => windows.some(([a, b]) => s.end >= a && s.start <= b);
    const up = samples.filter(during).map((s) => s.end - s.start);
    const steady = samples.filter((s) => !during(s)).map((s) => s.end - s.start);
    return {
      mode: o.mode,
      keys: o.keys,
      valueBytes: o.keys * o.valueSize,
      requests: samples.length,
      failures: samples.filter((s) => !s.ok).length,
      failureSamples: failures,
      connectionRetries: retries,
      steadyP99Ms: p99(steady),
      upgradeP99Ms: p99(up),
      steadyRequests: steady.length,
      upgradeRequests: up.length,
      upgrades,
      finalGeneration: stats.generation,
      finalLiveupdateNumber: stats.liveupdateNumber,
      keysVerified: verified,
      keyMismatches: mismatches,
      migrateReq,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    try {
      const r = await req("/admin/stop", { method: "POST" });
      await r.body?.cancel();
    } catch { /* already gone */ }
    await new Promise((r) => setTimeout(r, 100));
    client.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

/** /dev/shm when it is a directory (arenas in RAM), else the temp dir. */
function arenaDir(): string | undefined {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
}
