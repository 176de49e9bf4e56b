// Issue 10 item 10 in every handler that allocates: native allocations are
// not zeroed unless asked (AllocOptions.zero; fresh pages only are zero), so
// each handler must zero or overwrite what it hands out. Here every free page
// of the arena first holds a freed file's bytes (a marked 0xff pattern);
// then a Value, a PreservedMap (header, index, segments) and memory files
// (whose descriptor pages are the built-in FLB) are preserved and handed
// over. No word of the pattern may be in any handed-over region of the file
// (what a successor or `inspect` reads), and the successor gets exactly what
// was preserved through the API.
import assert from "node:assert/strict";
import { LiveUpdate, LiveUpdateError, MemFile, PreservedMap, Value } from "../mod.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho.ts";
import { inspectArena } from "../tools.ts";
import { tempArena } from "../testing/temp_arena.ts";

/** The freed file's bytes: 0xff with a marker, one 8-byte word (little endian). */
const STALE = 0xff_45_4c_41_54_53_ff_ffn; // ff ff "STALE" ff
const ARENA_BYTES = 4 << 20;

/** Allocates every free page, fills it with {@link STALE} and frees it again; returns the pages. */
function dirtyEveryFreePage(arena: Arena): number {
  const held: bigint[] = [];
  let pages = 0;
  for (let size = ARENA_BYTES; size >= PAGE_SIZE && held.length < 4096;) {
    try {
      const r = arena.allocRegion(size);
      fillWords(arena, r.pa, r.pages * PAGE_SIZE);
      held.push(r.pa);
      pages += r.pages;
    } catch (e) {
      if (!(e instanceof LiveUpdateError) || e.code !== "ENOMEM") throw e;
      size /= 2;
    }
  }
  for (const pa of held) arena.free(pa);
  return pages;
}

/** Writes {@link STALE} into every word of `bytes` bytes at `pa`. */
function fillWords(arena: Arena, pa: bigint, bytes: number): void {
  const view = arena.view(pa, bytes);
  for (let i = 0; i < bytes; i += 8) view.setBigUint64(i, STALE, true);
}

/** Words of {@link STALE} in the handed-over regions of the arena file at `path`. */
function staleWordsHandedOver(path: string): { words: number; regions: number } {
  const file = Deno.readFileSync(path);
  const view = new DataView(file.buffer);
  const { regions } = inspectArena(path);
  let words = 0;
  for (const r of regions) {
    const start = Number(BigInt(r.pa) - PHYS_BASE);
    for (let i = 0; i < r.pages * PAGE_SIZE; i += 8) {
      if (view.getBigUint64(start + i, true) === STALE) words++;
    }
  }
  return { words, regions: regions.length };
}

/**
 * Dirties every free page, lets `preserve` fill session "s" and hands over;
 * asserts no stale word was handed over, then gives the successor to `check`.
 */
function handOverOnDirtyPages(
  preserve: (luo: LiveUpdate) => void,
  check: (next: LiveUpdate) => void,
): void {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: ARENA_BYTES });
    const dirty = dirtyEveryFreePage(luo.arena);
    assert.ok(dirty * PAGE_SIZE > ARENA_BYTES / 2, `only ${dirty} pages dirtied`);
    assert.ok(staleWordsHandedOver(t.path).regions === 0, "nothing handed over yet");
    preserve(luo);
    luo.handover();
    const found = staleWordsHandedOver(t.path);
    assert.ok(found.regions > 0, "something was handed over");
    assert.equal(found.words, 0, `a freed file's bytes in ${found.regions} handed-over regions`);
    using next = LiveUpdate.open(t.path);
    check(next);
  } finally {
    t.cleanup();
  }
}

Deno.test("reused pages: a Value (value-v1) hands over no byte of a freed file", () => {
  const value = { text: "x".repeat(5000), n: 42 }; // two data pages, the second partly used
  handOverOnDirtyPages(
    (luo) => luo.createSession("s").preserve(new Value(value), 1n),
    (next) => {
      const s = next.retrieveSession("s");
      assert.deepEqual(s.retrieve(1n, Value).value, value);
      s.finish();
    },
  );
});

Deno.test("reused pages: a PreservedMap (header, index, segments) hands over no byte of a freed file", () => {
  // 600 values of 200 bytes: more than the first 64 KiB segment holds.
  const entries = Array.from(
    { length: 600 },
    (_, i) => [`key-${i}`, `value-${i}-${"v".repeat(200)}`] as const,
  );
  handOverOnDirtyPages(
    (luo) => {
      const map = PreservedMap.create<string>(luo.arena, { values: "cloned" });
      for (const [k, v] of entries) map.set(k, v);
      for (let i = 0; i < 100; i++) map.delete(`key-${i}`); // dead records, a grown index
      luo.createSession("s").preserve(map, 1n);
    },
    (next) => {
      const s = next.retrieveSession("s");
      const map = s.retrieve(1n, PreservedMap<string>);
      const got = [...map.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)));
      assert.deepEqual(got, entries.slice(100).sort(([a], [b]) => a.localeCompare(b)));
      assert.equal(map.get("key-0"), undefined);
      s.finish();
      map.close();
    },
  );
});

Deno.test("reused pages: memory files and their descriptor pages (the memfd FLB) hand over no byte of a freed file", () => {
  const texts = ["a", "b".repeat(4097), ""];
  handOverOnDirtyPages(
    (luo) => {
      const s = luo.createSession("s");
      const enc = new TextEncoder();
      texts.forEach((t, i) => s.preserve(MemFile.from(luo.arena, enc.encode(t)), BigInt(i)));
      s.preserve(MemFile.create(luo.arena, 10_000), 9n); // created zero-filled, never written
    },
    (next) => {
      const s = next.retrieveSession("s");
      const dec = new TextDecoder();
      texts.forEach((t, i) => assert.equal(dec.decode(s.retrieve(BigInt(i), MemFile).read()), t));
      assert.ok(s.retrieve(9n, MemFile).read().every((b) => b === 0));
      s.finish();
    },
  );
});
