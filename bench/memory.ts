// Process memory per preserved file: N bare files preserved in one session,
// heap and resident-set growth divided by N. Run by `./luo bench --report`
// (needs --v8-flags=--expose-gc); prints one JSON line.
import { LiveUpdate } from "../mod.ts";
import { arenaFor, bareHandler, fileBlockBytes } from "./fixtures.ts";

const n = Number(Deno.args[0] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");
const luo = LiveUpdate.create({ size: arenaFor(fileBlockBytes(n)), handlers: [bareHandler] });
const s = luo.createSession("memory");
// The user's own objects and tokens exist before and after: not counted.
const objs = Array.from({ length: n }, (_, i) => ({ t: BigInt(i) }));
gc();
const before = Deno.memoryUsage();
for (let i = 0; i < n; i++) s.preserve(objs[i], objs[i].t);
gc();
const after = Deno.memoryUsage();
luo.close(); // a temporary arena: closing it removes the file
console.log(JSON.stringify({
  files: n,
  heapBytesPerFile: (after.heapUsed - before.heapUsed) / n,
  externalBytesPerFile: (after.external - before.external) / n,
  rssBytesPerFile: (after.rss - before.rss) / n,
  arenaBytesPerFile: fileBlockBytes(n) / n,
}));
