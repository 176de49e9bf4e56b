// PreservedMap in one process: every method against a JS Map model,
// growth past many doublings, compaction, clear, views, iteration, bad
// arguments, cloned values.
import assert from "node:assert/strict";
import { Arena } from "../kho.ts";
import { LuoError, type MapKey, PreservedMap } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { apply, differs, type Model, modelKey, opAt, valueOf } from "../testing/kvmap_model.ts";
import { Rng } from "../testing/rng.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function withArena(size: number, fn: (arena: Arena) => void): void {
  using arena = Arena.create({ size });
  fn(arena);
}

Deno.test("kvmap: random sets, overwrites, deletes and compactions match a JS Map", () => {
  withArena(64 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    const model: Model = new Map();
    for (let i = 0; i < 20_000; i++) {
      apply(map, model, opAt(7, i, 3000, 300));
      if (i % 4000 === 3999) assert.equal(differs(map, model), null, `after op ${i}`);
    }
    assert.equal(differs(map, model), null);
    assert.ok(map.stats().segments > 1);
  });
});

Deno.test("kvmap: a string and its UTF-8 bytes are one key; keys() gives back what was set", () => {
  withArena(1 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    map.set("abc", enc.encode("1"));
    assert.equal(dec.decode(map.get(new Uint8Array([97, 98, 99]))), "1");
    map.set(new Uint8Array([97, 98, 99]), enc.encode("2"));
    assert.equal(map.size, 1);
    assert.deepEqual([...map.keys()], [new Uint8Array([97, 98, 99])]);
    map.set("ключ-🔑", enc.encode("unicode"));
    map.set("", enc.encode("empty key"));
    map.set(new Uint8Array([0, 255, 0x80]), new Uint8Array(0));
    const long = "x".repeat(40);
    map.set(long, enc.encode("long key"));
    assert.equal(dec.decode(map.get(enc.encode("ключ-🔑"))), "unicode");
    assert.equal(dec.decode(map.get("")), "empty key");
    assert.equal(map.get(new Uint8Array([0, 255, 0x80]))?.length, 0);
    assert.equal(dec.decode(map.get(long)), "long key");
    assert.equal(map.get("x".repeat(39)), undefined);
    assert.equal(map.get("x".repeat(39) + "y"), undefined);
    const keys = new Set([...map.keys()].map(modelKey));
    assert.deepEqual(keys, new Set(["b:61,62,63", "s:ключ-🔑", "s:", "b:0,ff,80", `s:${long}`]));
    assert.equal(map.has("abc"), true);
    assert.equal(map.delete("abc"), true);
    assert.equal(map.delete("abc"), false);
    assert.equal(map.has(new Uint8Array([97, 98, 99])), false);
  });
});

Deno.test("kvmap: 50k keys grow the index and the log through many doublings", () => {
  withArena(64 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    const first = map.stats();
    for (let i = 0; i < 50_000; i++) map.set(`k${i}`, valueOf(1, i, i % 50));
    const s = map.stats();
    assert.equal(s.keys, 50_000);
    assert.ok(s.slots >= 64 * first.slots, `${first.slots} -> ${s.slots} slots`);
    assert.ok(s.segments >= 4, `${s.segments} segments`);
    for (let i = 0; i < 50_000; i++) assert.deepEqual(map.get(`k${i}`), valueOf(1, i, i % 50));
  });
});

Deno.test("kvmap: overwrites and deletes are reclaimed step by step; compact() reclaims the rest", () => {
  withArena(64 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    for (let i = 0; i < 2000; i++) map.set(`k${i}`, valueOf(2, i, 200));
    const live = map.stats().liveBytes;
    let most = 0;
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 2000; i++) map.set(`k${i}`, valueOf(2, i + round, 200));
      most = Math.max(most, map.stats().pages);
    }
    // Forty times the live bytes were written; the map never held more than a few times them.
    assert.ok(most * 4096 < 6 * live, `${most} pages for ${live} live bytes`);
    for (let i = 0; i < 2000; i += 2) map.delete(`k${i}`);
    map.compact();
    const s = map.stats();
    assert.equal(s.keys, 1000);
    assert.equal(s.deadBytes, 0, "compact() reclaims every dead byte");
    for (let i = 1; i < 2000; i += 2) assert.deepEqual(map.get(`k${i}`), valueOf(2, i + 39, 200));
    assert.equal(map.get("k0"), undefined);
  });
});

Deno.test("kvmap: compact() reclaims the dead bytes of the head segment too; churn in one segment is reclaimed", () => {
  withArena(16 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    for (let i = 0; i < 32; i++) map.set(`k${i}`, valueOf(4, i, 84));
    for (let i = 0; i < 16; i++) map.set(`k${i}`, valueOf(5, i, 84)); // a third of the head is dead
    const head = map.stats();
    assert.ok(head.deadBytes > 0);
    assert.equal(head.segments, 1);
    assert.ok(map.compact() >= head.deadBytes, "the head's bytes, live ones moved, are freed");
    const after = map.stats();
    assert.equal(after.deadBytes, 0);
    assert.equal(after.segments, 1, "the sealed head was dropped once compacted");
    assert.equal(after.pages, head.pages, "the new head is as large as the old one");
    assert.equal(map.compact(), 0, "nothing left to reclaim: no new head");
    for (let i = 0; i < 32; i++) assert.deepEqual(map.get(`k${i}`), valueOf(i < 16 ? 5 : 4, i, 84));
    // Overwrites of a few keys, with no explicit compact: the dead bytes stay bounded by a head
    // segment's size (the head is sealed, then compacted, when it fills up).
    let most = 0;
    for (let round = 0; round < 20_000; round++) {
      map.set(`k${round % 32}`, valueOf(6, round, 84));
      most = Math.max(most, map.stats().deadBytes);
    }
    assert.ok(most < 2 * (64 << 10), `dead bytes reached ${most}`);
  });
});

Deno.test("kvmap: compact() when no new head fits is ENOMEM and changes nothing", () => {
  withArena(16 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    for (let i = 0; i < 32; i++) map.set(`k${i}`, valueOf(4, i, 84));
    map.set("k0", valueOf(5, 0, 84));
    const before = map.stats();
    const hog: bigint[] = [];
    for (;;) {
      try {
        hog.push(arena.alloc(4096));
      } catch {
        break;
      }
    }
    assertCode(() => map.compact(), "ENOMEM", /./);
    assert.deepEqual(map.stats(), before);
    for (let i = 0; i < 32; i++) assert.deepEqual(map.get(`k${i}`), valueOf(i ? 4 : 5, i, 84));
    for (const pa of hog) arena.free(pa);
    assert.ok(map.compact() >= before.deadBytes);
    assert.equal(map.stats().deadBytes, 0);
  });
});

Deno.test("kvmap: clear() keeps one small segment and a one-page index; the map stays usable", () => {
  withArena(16 << 20, (arena) => {
    const free = arena.info().freePages;
    const map = PreservedMap.create(arena);
    for (let i = 0; i < 10_000; i++) map.set(`k${i}`, valueOf(3, i, 100));
    map.clear();
    assert.equal(map.size, 0);
    assert.equal(map.get("k1"), undefined);
    assert.deepEqual([...map.entries()], []);
    assert.deepEqual(map.stats(), {
      keys: 0,
      slots: 128,
      segments: 1,
      liveBytes: 0,
      deadBytes: 0,
      pages: 18,
    });
    map.set("again", enc.encode("yes"));
    assert.equal(dec.decode(map.get("again")), "yes");
    map.close();
    assert.equal(arena.info().freePages, free);
  });
});

Deno.test("kvmap: a view holds its value until the next mutation; it is empty once the arena closes", () => {
  const arena = Arena.create({ size: 1 << 20 });
  const map = PreservedMap.create(arena);
  map.set("a", enc.encode("first"));
  const view = map.get("a")!;
  map.get("a");
  map.has("b");
  assert.equal(dec.decode(view), "first");
  map.set("a", enc.encode("second"));
  assert.equal(dec.decode(map.get("a")), "second");
  arena.close();
  assert.equal(view.length, 0);
  assertCode(() => map.get("a"), "EBADF", /arena .* is closed/);
  assertCode(() => map.size, "EBADF");
  assertCode(() => map.set("a", new Uint8Array(1)), "EBADF");
  map.close(); // nothing to free any more
  assertCode(() => map.get("a"), "EBADF", /map is closed/);
});

Deno.test("kvmap: deleting while iterating is fine; growing the index while iterating is EBUSY", () => {
  withArena(4 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    for (let i = 0; i < 90; i++) map.set(`k${i}`, new Uint8Array([i]));
    for (const k of map.keys()) if (Number((k as string).slice(1)) % 2) map.delete(k);
    assert.equal(map.size, 45);
    let seen = 0;
    map.forEach((v, k, m) => {
      assert.equal(m, map);
      assert.equal(`k${v[0]}`, k);
      seen++;
    });
    assert.equal(seen, 45);
    assert.throws(() => {
      let i = 0;
      for (const _ of map) map.set(`new${i++}`, new Uint8Array(8));
    }, (e) => e instanceof LuoError && e.code === "EBUSY");
  });
});

Deno.test("kvmap: bad keys, values and options are EINVAL naming what", () => {
  withArena(1 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    const bad = (v: unknown) => v as MapKey;
    assertCode(() => map.get(bad(1)), "EINVAL", /a string or a Uint8Array, got number/);
    assertCode(() => map.set(bad(null), new Uint8Array(1)), "EINVAL", /got null/);
    assertCode(() => map.has(bad({})), "EINVAL", /got Object/);
    assertCode(() => map.delete(bad(undefined)), "EINVAL");
    assertCode(() => map.set("x".repeat(65536), new Uint8Array(1)), "EINVAL", /65536 bytes/);
    assertCode(() => map.set("é".repeat(40000), new Uint8Array(1)), "EINVAL", /80000 bytes/);
    assertCode(() => map.set("\ud800", new Uint8Array(1)), "EINVAL", /lone surrogate/);
    assertCode(() => map.set("k", "text" as unknown as Uint8Array), "EINVAL", /got string/);
    assertCode(() => map.set("k", [1, 2] as unknown as Uint8Array), "EINVAL", /got Array/);
    for (const n of [NaN, -1, 1.5, 2 ** 40, "3"]) {
      assertCode(() => map.reserve(n as number), "EINVAL", /map keys/);
      assertCode(() => map.reserve(1, n as number), "EINVAL", /map bytes/);
      assertCode(() => PreservedMap.create(arena, { keys: n as number }), "EINVAL");
    }
    const values = "strings" as "cloned";
    assertCode(() => PreservedMap.create(arena, { values }), "EINVAL", /"bytes" or "cloned"/);
    assertCode(() => PreservedMap.create(arena, { bytes: 2 ** 40 }), "EINVAL", /map bytes/);
    const gone = new Uint8Array(4);
    structuredClone(gone.buffer, { transfer: [gone.buffer] });
    assertCode(
      () => map.set(gone, new Uint8Array(1)),
      "EINVAL",
      /map key: its ArrayBuffer is detached/,
    );
    assertCode(() => map.set("k", gone), "EINVAL", /map value: its ArrayBuffer is detached/);
    // More than the whole arena is no room, not a bad number.
    assertCode(
      () => PreservedMap.create(arena, { keys: 1e7 }),
      "ENOMEM",
      /more than the whole arena/,
    );
    assertCode(() => map.reserve(1e7, 0), "ENOMEM", /more than the whole arena/);
    assert.equal(map.size, 0);
    map.set("x".repeat(65535), new Uint8Array(1));
    assert.equal(map.size, 1);
  });
});

Deno.test("kvmap: a map of structured clones copies values in and out", () => {
  withArena(4 << 20, (arena) => {
    const map = PreservedMap.create<unknown>(arena, { values: "cloned" });
    assert.equal(map.valueKind, "cloned");
    const value = { n: 1, list: [1, 2, 3], when: new Date(0), m: new Map([["a", 1n]]) };
    map.set("obj", value);
    const got = map.get("obj") as typeof value;
    assert.deepEqual(got, value);
    got.n = 2;
    assert.equal((map.get("obj") as typeof value).n, 1);
    assertCode(() => map.set("f", () => 1), "EINVAL", /cannot be cloned/);
    assert.deepEqual([...map.values()], [value]);
  });
});

Deno.test("kvmap: reserve() sizes the index and the head segment up front", () => {
  withArena(64 << 20, (arena) => {
    const map = PreservedMap.create(arena, { keys: 10_000, bytes: 1 << 20 });
    const before = map.stats();
    assert.ok(before.slots >= 12_500, `${before.slots} slots`);
    for (let i = 0; i < 10_000; i++) map.set(`k${i}`, new Uint8Array(80));
    assert.deepEqual(map.stats().slots, before.slots);
    map.reserve(100_000, 4 << 20);
    assert.ok(map.stats().slots >= 125_000);
    assert.equal(map.get("k9999")?.length, 80);
  });
});

Deno.test("kvmap: seeded stress with byte keys and odd value sizes", () => {
  withArena(64 << 20, (arena) => {
    const map = PreservedMap.create(arena);
    const model: Model = new Map();
    const rng = new Rng(99);
    for (let i = 0; i < 5000; i++) {
      const key = new Uint8Array(1 + rng.int(30)).map(() => rng.int(256));
      const value = valueOf(9, i, rng.pick([0, 1, 7, 8, 9, 4095, 4096, 70_000]));
      map.set(key, value);
      model.set(modelKey(key), value);
      if (rng.next() < 0.3) {
        const [k] = model.keys().drop(rng.int(model.size)).take(1);
        model.delete(k);
        map.delete(new Uint8Array(k.slice(2).split(",").map((h) => parseInt(h, 16))));
      }
    }
    assert.equal(differs(map, model), null);
  });
});
