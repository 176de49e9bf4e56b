// Serialize (handover), deserialize (restore) and preserve of N file
// entries, with memcpy of the same serialized bytes (native, and
// Uint8Array.set) as the baseline of each group.
import { Arena } from "../lib/kho/arena.ts";
import { LiveUpdate } from "../mod.ts";
import {
  bareHandler,
  FILE_COUNTS,
  fileBlockBytes,
  handedOver,
  prepare,
  removeAtExit,
} from "./fixtures.ts";

type BenchOpts = { n: number; warmup: number };

/** Benchmarks the handover of one session of `n` bare files. */
function benchSerialize(n: number, group: string, opts: BenchOpts): void {
  Deno.bench({ name: `serialize (handover) [${n}]`, group, ...opts }, (b) => {
    const luo = prepare(1, n);
    const path = luo.arena.path;
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });
}

/** Benchmarks the restore of one handed-over image of `n` bare files, written back before each run. */
function benchDeserialize(n: number, group: string, opts: BenchOpts): void {
  const image = handedOver(prepare(1, n));
  removeAtExit(image.path);
  Deno.bench({ name: `deserialize (restore) [${n}]`, group, ...opts }, (b) => {
    Deno.writeFileSync(image.path, image.bytes);
    const next = LiveUpdate.open(image.path, { handlers: [bareHandler] });
    b.start();
    next.incomingSessions();
    b.end();
    next.close();
  });
}

// The fixed cost of a handover and a restore with no file at all (device
// trees, map, unmapping): the report takes it off to get the cost per file.
benchSerialize(0, "fixed", { n: 300, warmup: 30 });
benchDeserialize(0, "fixed", { n: 300, warmup: 30 });

for (const n of FILE_COUNTS) {
  const group = `files ${n}`;
  const opts = n >= 1_000_000
    ? { n: 4, warmup: 1 }
    : n >= 100_000
    ? { n: 15, warmup: 3 }
    : n >= 10_000
    ? { n: 100, warmup: 10 }
    : { n: 300, warmup: 30 };
  const bytes = fileBlockBytes(n);

  const copy = Arena.create({ size: 4 * 2 ** Math.ceil(Math.log2(bytes)) });
  removeAtExit(copy.path);
  const src = copy.alloc(bytes);
  const dst = copy.alloc(bytes);
  copy.bytes(src, bytes).fill(7);
  Deno.bench({ name: `memcpy ${bytes} B, native [${n}]`, group, baseline: true }, () => {
    copy.copy(dst, src, bytes);
  });
  Deno.bench({ name: `memcpy ${bytes} B, Uint8Array.set [${n}]`, group }, () => {
    copy.bytes(dst, bytes).set(copy.bytes(src, bytes));
  });

  benchSerialize(n, group, opts);
  benchDeserialize(n, group, opts);

  Deno.bench({ name: `preserve [${n}]`, group: `preserve`, ...opts }, (b) => {
    const luo = LiveUpdate.create({ size: 1 << 30, handlers: [bareHandler] });
    const s = luo.createSession("p");
    const objs = Array.from({ length: n }, (_, i) => ({ t: BigInt(i) }));
    const tokens = objs.map((o) => o.t);
    b.start();
    for (let i = 0; i < n; i++) s.preserve(objs[i], tokens[i]);
    b.end();
    luo.close();
  });
}
