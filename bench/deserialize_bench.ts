// Serialize (preserve + hand over) and deserialize (open + validate +
// retrieve every file) of N bare entries in one session, in this one warm
// process, against a copy of the same serialized bytes (the N/127 file
// blocks of 8192 bytes; native memcpy is the baseline, Uint8Array.set the
// other). "validate" is the incoming image read alone (after open, before
// any retrieve). `./luo bench --report` runs the same in a fresh process
// per sample, and repeats the copy to take its minimum.
import { LiveUpdate } from "../mod.ts";
import { Arena } from "../kho.ts";
import { nativeCopy } from "../lib/kho/faults.ts";
import {
  arenaFor,
  BARE_SESSION,
  bareHandler,
  bareLiveUpdate,
  bareObjects,
  benchDir,
  FILE_COUNTS,
  fileBlockBytes,
  iterationsFor,
  preserveBare,
} from "./fixtures.ts";

const dir = benchDir("entries");

function benchCopies(n: number, group: string): void {
  const bytes = fileBlockBytes(n);
  const copy = Arena.create({ size: arenaFor(2 * bytes) });
  addEventListener("unload", () => copy.close());
  const src = copy.alloc(bytes);
  const dst = copy.alloc(bytes);
  copy.bytes(src, bytes).fill(7);
  copy.bytes(dst, bytes).fill(0);
  Deno.bench({ name: `memcpy ${bytes} B, native [${n}]`, group, baseline: true }, () => {
    nativeCopy(copy, dst, src, bytes);
  });
  Deno.bench({ name: `memcpy ${bytes} B, Uint8Array.set [${n}]`, group }, () => {
    copy.bytes(dst, bytes).set(copy.bytes(src, bytes));
  });
}

function benchSerialize(n: number, group: string): void {
  const objs = bareObjects(n);
  const opts = { group, ...iterationsFor(n) };
  Deno.bench({ name: `preserve + hand over [${n}]`, ...opts }, (b) => {
    const luo = bareLiveUpdate(n);
    const path = luo.arena.path;
    b.start();
    preserveBare(luo, objs);
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });
  Deno.bench({ name: `hand over alone [${n}]`, ...opts }, (b) => {
    const luo = bareLiveUpdate(n);
    const path = luo.arena.path;
    preserveBare(luo, objs);
    b.start();
    luo.handover();
    b.end();
    Deno.removeSync(path);
  });
}

/** The image (handed over once, kept: a successor that does not hand over leaves it). */
function benchDeserialize(n: number, group: string): void {
  const path = `${dir}/image-${n}.arena`;
  const luo = bareLiveUpdate(n, path);
  preserveBare(luo, bareObjects(n));
  luo.handover();
  const opts = { group, ...iterationsFor(n) };
  Deno.bench({ name: `open + validate + retrieve all [${n}]`, ...opts }, (b) => {
    b.start();
    const next = LiveUpdate.open(path, { handlers: [bareHandler] });
    const s = next.retrieveSession(BARE_SESSION);
    for (const t of s.tokens()) s.retrieve(t);
    b.end();
    next.close();
  });
  Deno.bench({ name: `validate alone [${n}]`, ...opts }, (b) => {
    const next = LiveUpdate.open(path, { handlers: [bareHandler] });
    b.start();
    next.incomingSessions();
    b.end();
    next.close();
  });
}

for (const n of FILE_COUNTS) {
  const group = `entries ${n}`;
  benchCopies(n, group);
  benchSerialize(n, group);
  benchDeserialize(n, group);
}
