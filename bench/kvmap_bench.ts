// PreservedMap against what a Deno service would use without it, side by
// side: get and set against a JS Map<string, Uint8Array> (the baseline,
// the ceiling) and Deno KV; the upgrade against node:v8 serialize to a
// file + deserialize, and Deno KV reopened. One iteration of get/set is a
// batch (the batch size is in the name); times here are in-process (warm
// code): the two-process, cold-successor view is dev/kvmap_report.ts's.
import { deserialize, serialize } from "node:v8";
import { LiveUpdate, PreservedMap } from "../mod.ts";
import { Rng } from "../testing/rng.ts";
import { testArenaDir } from "../testing/temp_arena.ts";
import { kvArenaSize, kvKey, KVMAP_SIZES, kvValue } from "./fixtures.ts";

/** Lookups or stores per iteration (Deno KV: a tenth, it is that much slower). */
const BATCH = 1000;
const KV_BATCH = 100;
/** Deno KV is filled up to this many keys (filling it takes minutes beyond). */
const KV_MAX = 100_000;

// Everything in RAM (/dev/shm when there is one): the baselines' files too, to be fair to them.
const dir = Deno.makeTempDirSync({ prefix: "luo-bench-kvmap-", dir: testArenaDir() });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** A seeded random order of `count` of the `n` keys. */
function randomKeys(n: number, count: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => kvKey(rng.int(n)));
}

async function fillKv(path: string, n: number): Promise<Deno.Kv> {
  const kv = await Deno.openKv(path);
  for (let i = 0; i < n; i += 1000) {
    const tx = kv.atomic();
    for (let j = i; j < Math.min(n, i + 1000); j++) tx.set(["k", kvKey(j)], kvValue(j));
    await tx.commit();
  }
  return kv;
}

for (const n of KVMAP_SIZES) {
  const luo = LiveUpdate.create({ path: `${dir}/map-${n}.arena`, size: kvArenaSize(n) });
  const map = PreservedMap.create(luo.arena, { keys: n });
  const js = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const v = kvValue(i);
    map.set(kvKey(i), v);
    js.set(kvKey(i), v);
  }
  const kvPath = `${dir}/kv-${n}.sqlite`;
  const kv = n <= KV_MAX ? await fillKv(kvPath, n) : null;
  const order = randomKeys(n, BATCH * 64, n);
  let at = 0;
  const batch = (size: number) => {
    at = (at + size) % (order.length - size);
    return at;
  };
  const getGroup = `kvmap get [${n}]`;
  Deno.bench({ name: `Map.get x${BATCH} [${n}]`, group: getGroup, baseline: true }, () => {
    const from = batch(BATCH);
    let s = 0;
    for (let i = from; i < from + BATCH; i++) s += js.get(order[i])!.length;
    if (s !== BATCH * 100) throw new Error("Map.get");
  });
  Deno.bench({ name: `PreservedMap.get x${BATCH} [${n}]`, group: getGroup }, () => {
    const from = batch(BATCH);
    let s = 0;
    for (let i = from; i < from + BATCH; i++) s += map.get(order[i])!.length;
    if (s !== BATCH * 100) throw new Error("PreservedMap.get");
  });
  if (kv) {
    Deno.bench({ name: `Deno KV get x${KV_BATCH} [${n}]`, group: getGroup, n: 20 }, async () => {
      const from = batch(KV_BATCH);
      for (let i = from; i < from + KV_BATCH; i++) await kv.get(["k", order[i]]);
    });
  }
  const setGroup = `kvmap set [${n}]`;
  const value = kvValue(7);
  Deno.bench({ name: `Map.set x${BATCH} [${n}]`, group: setGroup, baseline: true }, () => {
    const from = batch(BATCH);
    for (let i = from; i < from + BATCH; i++) js.set(order[i], value);
  });
  Deno.bench({ name: `PreservedMap.set x${BATCH} [${n}]`, group: setGroup }, () => {
    const from = batch(BATCH);
    for (let i = from; i < from + BATCH; i++) map.set(order[i], value);
  });
  if (kv) {
    Deno.bench({ name: `Deno KV set x${KV_BATCH} [${n}]`, group: setGroup, n: 10 }, async () => {
      const from = batch(KV_BATCH);
      for (let i = from; i < from + KV_BATCH; i++) await kv.set(["k", order[i]], value);
    });
  }
  benchUpgrade(n, luo, map, js, kv === null ? null : kvPath);
  addEventListener("unload", () => kv?.close());
}

/** The predecessor's side and the successor's side of an upgrade, in this process. */
function benchUpgrade(
  n: number,
  luo: LiveUpdate,
  map: PreservedMap,
  js: Map<string, Uint8Array>,
  kvPath: string | null,
): void {
  const group = `kvmap upgrade [${n}]`;
  const opts = { group, n: n >= 1_000_000 ? 5 : 20, warmup: 1 };
  const path = luo.arena.path;
  // One generation per iteration: the successor retrieves, then hands the same map over again.
  // The first one hands over the map the get and set benchmarks used (they ran before).
  const generation = (b: Deno.BenchContext, timed: "handover" | "restore" | "retrieve") => {
    if (!luo.arena.closed) {
      luo.createSession("kv").preserve(map, 1n);
      luo.handover();
    }
    if (timed === "restore") b.start();
    const next = LiveUpdate.open(path);
    const s = next.retrieveSession("kv");
    if (timed === "retrieve") b.start();
    const m = s.retrieve(1n, PreservedMap);
    const answer = m.get(kvKey(n - 1));
    if (timed !== "handover") b.end();
    if (answer?.length !== 100) throw new Error("restored map");
    s.finish();
    if (timed === "handover") b.start();
    next.createSession("kv").preserve(m, 1n);
    next.handover();
    if (timed === "handover") b.end();
  };
  Deno.bench({ name: `PreservedMap preserve + handover [${n}]`, ...opts }, (b) => {
    generation(b, "handover");
  });
  Deno.bench({ name: `PreservedMap open + retrieve + first get [${n}]`, ...opts }, (b) => {
    generation(b, "restore");
  });
  Deno.bench({ name: `PreservedMap retrieve + first get [${n}]`, ...opts }, (b) => {
    generation(b, "retrieve");
  });
  const v8file = `${dir}/map-${n}.v8`;
  Deno.bench({ name: `node:v8 serialize + write [${n}]`, ...opts, baseline: true }, () => {
    Deno.writeFileSync(v8file, serialize(js));
  });
  Deno.bench({ name: `node:v8 read + deserialize + first get [${n}]`, ...opts }, () => {
    const m = deserialize(Deno.readFileSync(v8file)) as Map<string, Uint8Array>;
    if (m.get(kvKey(n - 1))?.length !== 100) throw new Error("v8 map");
  });
  if (kvPath) {
    Deno.bench({ name: `Deno KV open + first get [${n}]`, ...opts }, async () => {
      const kv = await Deno.openKv(kvPath);
      if ((await kv.get<Uint8Array>(["k", kvKey(n - 1)])).value?.length !== 100) {
        throw new Error("kv");
      }
      kv.close();
    });
  }
}
