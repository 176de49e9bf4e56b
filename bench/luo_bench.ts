// Serialize (handover) and deserialize (restore) of N file entries, per
// file, with memcpy of the same serialized bytes as baselines in the same
// run. Files use a minimal handler so that the LUO layer itself is measured;
// a memfd group adds the built-in handler's own pages.
import { type FileHandler, LiveUpdate, MemFile } from "../mod.ts";
import { FILE_CHAIN } from "../lib/abi.ts";
import { Arena, PAGE_SIZE } from "../lib/kho.ts";

const SIZES = (Deno.env.get("LUO_BENCH_FILES") ?? "1000,10000,100000").split(",").map(Number);

/** data = token; no pages of its own. */
const tokenHandler: FileHandler<{ t: bigint }> = {
  compatible: "bench-token-v1",
  canPreserve: (_c, o) => typeof o === "object" && o !== null && "t" in o,
  preserve: (_c, o) => o.t,
  unpreserve: () => {},
  freeze: () => {},
  unfreeze: () => {},
  retrieve: (_c, data) => ({ t: data }),
  canFinish: () => true,
  finish: () => {},
};

function arenaSize(n: number): number {
  return 2 ** Math.ceil(Math.log2((n * 4 + 8192) * PAGE_SIZE));
}

function prepared(n: number, memfd: boolean): LiveUpdate {
  const luo = LiveUpdate.create({ size: arenaSize(n), handlers: [tokenHandler] });
  const s = luo.createSession("bench");
  for (let i = 0; i < n; i++) {
    s.preserve(memfd ? MemFile.create(luo.arena, 64) : { t: BigInt(i) }, BigInt(i));
  }
  return luo;
}

function serializedBytes(n: number): number {
  return Math.ceil(n / FILE_CHAIN.perBlock) * FILE_CHAIN.blockSize;
}

for (const n of SIZES) {
  const group = `${n} files`;
  const big = n >= 100_000;
  const opts = big ? { n: 5, warmup: 1 } : { n: 30, warmup: 3 };
  const bytes = serializedBytes(n);

  // Baselines: copying the serialized bytes, natively and with Uint8Array.set.
  const copyArena = Arena.create({ size: 4 * 2 ** Math.ceil(Math.log2(bytes)) });
  const src = copyArena.alloc(bytes);
  const dst = copyArena.alloc(bytes);
  copyArena.bytes(src, bytes).fill(7);
  addEventListener("unload", () => {
    copyArena.close();
    Deno.removeSync(copyArena.path);
  });
  Deno.bench({ name: `memcpy ${bytes} B (native)`, group, baseline: true }, () => {
    copyArena.copy(dst, src, bytes);
  });
  Deno.bench({ name: `memcpy ${bytes} B (Uint8Array.set)`, group }, () => {
    copyArena.bytes(dst, bytes).set(copyArena.bytes(src, bytes));
  });

  Deno.bench({ name: `serialize (handover) ${n} files`, group, ...opts }, (b) => {
    const luo = prepared(n, false);
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(luo.arena.path);
  });

  Deno.bench({ name: `deserialize (restore) ${n} files`, group, ...opts }, (b) => {
    const luo = prepared(n, false);
    const path = luo.arena.path;
    luo.handover();
    b.start();
    const next = LiveUpdate.open(path, { handlers: [tokenHandler] });
    next.incomingSessions();
    b.end();
    next.close();
    Deno.removeSync(path);
  });

  if (n <= 10_000) {
    Deno.bench({ name: `serialize (handover) ${n} memfds`, group, ...opts }, (b) => {
      const luo = prepared(n, true);
      b.start();
      luo.handover();
      b.end();
      Deno.removeSync(luo.arena.path);
    });
    Deno.bench({ name: `restore + retrieve ${n} memfds`, group, ...opts }, (b) => {
      const luo = prepared(n, true);
      const path = luo.arena.path;
      luo.handover();
      b.start();
      const next = LiveUpdate.open(path);
      const s = next.retrieveSession("bench");
      for (let i = 0; i < n; i++) s.retrieve(BigInt(i));
      b.end();
      next.close();
      Deno.removeSync(path);
    });
  }
}
