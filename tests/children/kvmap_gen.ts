// Child of tests/kvmap_handover_test.ts: one generation of a service whose
// state is a PreservedMap of N keys, in its own process.
//   gen PATH G N   G = 1: create the map, hand over. G > 1: retrieve it,
//                  verify every key against generation G - 1, change it
//                  (overwrite, delete, add), hand over again. Prints
//                  {"keys", "verified", "readyMs"}; exits 1 on a difference.
//   last PATH G N  verify generation G and release everything.
import { LiveUpdate, PreservedMap } from "../../mod.ts";
import { type Model, modelKey, valueOf } from "../../testing/kvmap_model.ts";

const [stage, path, gArg, nArg] = Deno.args;
const g = Number(gArg);
const n = Number(nArg);

/** What generation `gen` changes: overwrites, deletes and new keys. */
function change(gen: number, map: Model | PreservedMap): void {
  const set = (k: string, v: Uint8Array) =>
    map instanceof Map ? map.set(modelKey(k), v) : map.set(k, v);
  if (gen === 1) {
    for (let i = 0; i < n; i++) set(`key-${i}`, valueOf(1, i, 20 + (i % 40)));
    return;
  }
  for (let i = gen % 7; i < n; i += 7) set(`key-${i}`, valueOf(gen, i, 10 + (i % 60)));
  for (let i = gen; i < n; i += 11) {
    if (map instanceof Map) map.delete(modelKey(`key-${i}`));
    else map.delete(`key-${i}`);
  }
  for (let j = 0; j < n / 10; j++) set(`new-${gen}-${j}`, valueOf(gen, n + j, 30));
}

/** The state after generation `gen`. */
function expected(gen: number): Model {
  const m: Model = new Map();
  for (let k = 1; k <= gen; k++) change(k, m);
  return m;
}

function verify(map: PreservedMap, gen: number): number {
  const want = expected(gen);
  if (map.size !== want.size) {
    throw new Error(`generation ${gen}: ${map.size} keys, want ${want.size}`);
  }
  let verified = 0;
  for (const [mk, v] of want) {
    const got = map.get(mk.slice(2));
    if (!got || got.length !== v.length || got.some((b, i) => b !== v[i])) {
      throw new Error(`generation ${gen}: ${mk} differs`);
    }
    verified++;
  }
  return verified;
}

if (stage === "gen" && g === 1) {
  const luo = LiveUpdate.create({ path, size: 128 << 20 });
  const map = PreservedMap.create(luo.arena);
  change(1, map);
  luo.createSession("svc").preserve(map, 1n);
  luo.handover();
  console.log(JSON.stringify({ keys: n, verified: 0, readyMs: 0 }));
} else {
  const t0 = performance.now();
  const luo = LiveUpdate.open(path);
  const s = luo.retrieveSession("svc");
  const map = s.retrieve(1n, PreservedMap);
  s.finish();
  map.get("key-0");
  const readyMs = performance.now() - t0;
  const verified = verify(map, stage === "gen" ? g - 1 : g);
  if (stage === "gen") {
    change(g, map);
    luo.createSession("svc").preserve(map, 1n);
    const keys = map.size;
    luo.handover();
    console.log(JSON.stringify({ keys, verified, readyMs }));
  } else {
    const keys = map.size;
    map.close();
    luo.discardIncoming();
    const i = luo.arena.info();
    const inUse = i.allocatedPages + i.handedOverPages + i.deferredPages;
    luo.close();
    if (inUse !== 0) throw new Error(`${inUse} pages still in use`);
    console.log(JSON.stringify({ keys, verified, readyMs }));
  }
}
