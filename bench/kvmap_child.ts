// The processes of an upgrade, for dev/kvmap_report.ts: a predecessor
// that builds N keys and hands them over three ways, and successors, each
// a fresh process, timed from the start of their work (after the imports)
// to the first answer. Prints one JSON line.
//   prepare DIR N KV   map.arena (a PreservedMap, handed over), map.v8
//                      (node:v8 of a Map), with KV=1 kv.sqlite (Deno KV);
//                      prints the handover and v8 write times
//   kvmap DIR          open + retrieve + first get; prints readyMs and retrieveMs
//                      (the map's retrieve to the first answer); hands nothing over
//   v8 DIR             read + deserialize + first get
//   kv DIR             open Deno KV + first get
import { deserialize, serialize } from "node:v8";
import { LiveUpdate, PreservedMap } from "../mod.ts";
import { kvArenaSize, kvKey, kvValue } from "./fixtures.ts";

const t0 = performance.now();
const [stage, dir, nArg, kvArg] = Deno.args;
const out = (o: Record<string, number>) => console.log(JSON.stringify(o));
const lastKey = () => kvKey(Number(Deno.readTextFileSync(`${dir}/keys`)) - 1);

async function prepare(n: number, withKv: boolean): Promise<void> {
  Deno.writeTextFileSync(`${dir}/keys`, String(n));
  const luo = LiveUpdate.create({ path: `${dir}/map.arena`, size: kvArenaSize(n) });
  const map = PreservedMap.create(luo.arena, { keys: n });
  const js = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    map.set(kvKey(i), kvValue(i));
    js.set(kvKey(i), kvValue(i));
  }
  let t = performance.now();
  luo.createSession("kv").preserve(map, 1n);
  luo.handover();
  const handoverMs = performance.now() - t;
  t = performance.now();
  Deno.writeFileSync(`${dir}/map.v8`, serialize(js));
  const v8WriteMs = performance.now() - t;
  if (withKv) {
    const kv = await Deno.openKv(`${dir}/kv.sqlite`);
    for (let i = 0; i < n; i += 1000) {
      const tx = kv.atomic();
      for (let j = i; j < Math.min(n, i + 1000); j++) tx.set(["k", kvKey(j)], kvValue(j));
      await tx.commit();
    }
    kv.close();
  }
  out({ handoverMs, v8WriteMs });
}

if (stage === "prepare") await prepare(Number(nArg), kvArg === "1");
else if (stage === "kvmap") {
  const luo = LiveUpdate.open(`${dir}/map.arena`);
  const s = luo.retrieveSession("kv");
  const t = performance.now();
  const map = s.retrieve(1n, PreservedMap);
  const v = map.get(lastKey());
  const t1 = performance.now();
  if (v?.length !== 100) throw new Error("kvmap: wrong value");
  out({ readyMs: t1 - t0, retrieveMs: t1 - t });
  luo.close();
} else if (stage === "v8") {
  const m = deserialize(Deno.readFileSync(`${dir}/map.v8`)) as Map<string, Uint8Array>;
  const v = m.get(lastKey());
  const t1 = performance.now();
  if (v?.length !== 100) throw new Error("v8: wrong value");
  out({ readyMs: t1 - t0 });
} else if (stage === "kv") {
  const kv = await Deno.openKv(`${dir}/kv.sqlite`);
  const v = (await kv.get<Uint8Array>(["k", lastKey()])).value;
  const t1 = performance.now();
  if (v?.length !== 100) throw new Error("kv: wrong value");
  out({ readyMs: t1 - t0 });
  kv.close();
} else throw new Error(`kvmap_child: unknown stage ${stage}`);
