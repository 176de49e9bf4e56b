// Child of tests/kvmap_room_test.ts: generations of a service whose state
// is one PreservedMap of KEYS keys with 1000-byte values, each generation
// overwriting them many times over in a small arena. Value i (of key
// `k${i % KEYS}`) holds i in its first 4 bytes and a byte pattern of i
// after, so any value can be checked on its own.
//   first PATH SIZE KEYS N       create the arena and the map, N overwrites, hand over
//   next PATH KEYS FROM N H      retrieve + finish, overwrites FROM..FROM+N-1
//                                (prints "ready" and the pages handed over
//                                at open first), then hand over when H is 1;
//                                N = 0 overwrites until killed
//   verify PATH KEYS             retrieve + finish, check every key, hand over
// Each prints one JSON line: the arena's pages when it stopped writing
// (`inUse`: allocated, parked and handed over), the map's pages, and what
// was handed over when it opened (`handedOverAtOpen`).
import { LiveUpdate, PreservedMap } from "../../mod.ts";
import { pagesInUse } from "../../testing/pages.ts";

const VALUE = 1000;
const [stage, path, ...args] = Deno.args;

function valueOf(i: number, v: Uint8Array): Uint8Array {
  new DataView(v.buffer).setUint32(0, i, true);
  v.fill((i * 31 + 7) & 0xff, 4);
  return v;
}

/** The overwrites `from` .. `from + n - 1` (n = 0: until killed). */
function overwrite(map: PreservedMap, keys: number, from: number, n: number): void {
  const v = new Uint8Array(VALUE);
  for (let i = from; n === 0 || i < from + n; i++) map.set(`k${i % keys}`, valueOf(i, v));
}

/** Every key's value, checked on its own. */
function verify(map: PreservedMap, keys: number): void {
  if (map.size !== keys) throw new Error(`${map.size} keys, want ${keys}`);
  for (let j = 0; j < keys; j++) {
    const v = map.get(`k${j}`);
    if (!v || v.length !== VALUE) throw new Error(`k${j}: ${v?.length} bytes`);
    const i = new DataView(v.buffer, v.byteOffset).getUint32(0, true);
    const want = valueOf(i, new Uint8Array(VALUE));
    if (i % keys !== j || v.some((b, k) => b !== want[k])) throw new Error(`k${j}: damaged (${i})`);
  }
}

function report(luo: LiveUpdate, map: PreservedMap, handedOverAtOpen: number): void {
  const inUse = pagesInUse(luo.arena.info());
  console.log(JSON.stringify({ inUse, mapPages: map.stats().pages, handedOverAtOpen }));
}

function handOver(luo: LiveUpdate, map: PreservedMap): void {
  luo.createSession("room").preserve(map, 1n);
  luo.handover();
}

function resume(): { luo: LiveUpdate; map: PreservedMap; handedOverAtOpen: number } {
  const luo = LiveUpdate.open(path);
  const handedOverAtOpen = luo.arena.info().handedOverPages;
  const s = luo.retrieveSession("room");
  const map = s.retrieve(1n, PreservedMap);
  s.finish();
  return { luo, map, handedOverAtOpen };
}

if (stage === "first") {
  const [size, keys, n] = args.map(Number);
  const luo = LiveUpdate.create({ path, size });
  const map = PreservedMap.create(luo.arena);
  overwrite(map, keys, 0, n);
  report(luo, map, 0);
  handOver(luo, map);
} else if (stage === "next") {
  const [keys, from, n, handover] = args.map(Number);
  const { luo, map, handedOverAtOpen } = resume();
  console.log(`ready ${handedOverAtOpen}`);
  overwrite(map, keys, from, n);
  report(luo, map, handedOverAtOpen);
  if (handover === 1) handOver(luo, map);
} else if (stage === "verify") {
  const { luo, map, handedOverAtOpen } = resume();
  verify(map, Number(args[0]));
  report(luo, map, handedOverAtOpen);
  handOver(luo, map);
} else {
  throw new Error(`unknown stage ${stage}`);
}
