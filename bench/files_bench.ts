// Serialize (handover), deserialize (restore) and preserve of N file
// entries, with memcpy of the same serialized bytes (native, and
// Uint8Array.set) as the baseline of each group.
import { Arena } from "../lib/kho.ts";
import { LiveUpdate } from "../lib/luo.ts";
import {
  bareHandler,
  FILE_COUNTS,
  fileBlockBytes,
  handedOver,
  prepare,
  removeAtExit,
} from "./fixtures.ts";

// The fixed cost of a handover and a restore with no file at all (device
// trees, map, unmapping): the report takes it off to get the cost per file.
{
  const opts = { n: 300, warmup: 30 };
  Deno.bench({ name: "serialize (handover) [0]", group: "fixed", ...opts }, (b) => {
    const luo = prepare(1, 0);
    const path = luo.arena.path;
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });
  const image = handedOver(prepare(1, 0));
  removeAtExit(image.path);
  Deno.bench({ name: "deserialize (restore) [0]", group: "fixed", ...opts }, (b) => {
    Deno.writeFileSync(image.path, image.bytes);
    const next = LiveUpdate.open(image.path, { handlers: [bareHandler] });
    b.start();
    next.incomingSessions();
    b.end();
    next.close();
  });
}

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

  Deno.bench({ name: `serialize (handover) [${n}]`, group, ...opts }, (b) => {
    const luo = prepare(1, n);
    const path = luo.arena.path;
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });

  // One handed-over image, written back before each restore.
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

  Deno.bench({ name: `preserve [${n}]`, group: `preserve`, ...opts }, (b) => {
    const luo = LiveUpdate.create({ size: 1 << 30, handlers: [bareHandler] });
    const s = luo.createSession("p");
    const objs = Array.from({ length: n }, (_, i) => ({ t: BigInt(i) }));
    const tokens = objs.map((o) => o.t);
    b.start();
    for (let i = 0; i < n; i++) s.preserve(objs[i], tokens[i]);
    b.end();
    luo.close();
    Deno.removeSync(luo.arena.path);
  });
}
