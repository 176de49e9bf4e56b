// Preserving and handing over N 100-byte memory files (created before the
// timing) against the same with a handler that keeps nothing (the
// baseline): the memory file's own cost per file (issue 12 item 7).
import { LiveUpdate, MemFile } from "../mod.ts";
import { bareHandler } from "./fixtures.ts";

const COUNTS = [10_000, 100_000];

/** An arena with room for `n` one-page files and their metadata, sparse. */
function create(n: number): LiveUpdate {
  const size = 2 ** Math.ceil(Math.log2(n * 4096 * 1.2 + (64 << 20)));
  return LiveUpdate.create({ size, handlers: [bareHandler], reserve: false });
}

function bench(n: number, kind: "memfd" | "bare"): void {
  const opts = n >= 100_000 ? { n: 5, warmup: 1 } : { n: 30, warmup: 3 };
  Deno.bench({
    name: `preserve + handover, ${kind} [${n}]`,
    group: `memfd files ${n}`,
    baseline: kind === "bare",
    ...opts,
  }, (b) => {
    const luo = create(n);
    const data = new Uint8Array(100).fill(7);
    const objs: unknown[] = kind === "memfd"
      ? Array.from({ length: n }, () => MemFile.from(luo.arena, data))
      : Array.from({ length: n }, (_, i) => ({ t: BigInt(i) }));
    const s = luo.createSession("s");
    b.start();
    for (let i = 0; i < n; i++) s.preserve(objs[i], i);
    luo.handover();
    b.end();
    Deno.removeSync(luo.arena.path);
  });
}

for (const n of COUNTS) {
  bench(n, "bare");
  bench(n, "memfd");
}
