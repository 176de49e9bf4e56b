import assert from "node:assert/strict";
import { tokenHalves, TokenIndex, tokenOf } from "../lib/format/token_index.ts";
import { Rng } from "../testing/rng.ts";

Deno.test("token index: agrees with a Map over random inserts, lookups and deletes", () => {
  const rng = new Rng(9);
  const idx = new TokenIndex();
  const ref = new Map<bigint, number>();
  // Few distinct keys in a narrow range so that probe runs collide and deletes shift.
  const key = () => rng.next() < 0.1 ? (BigInt(rng.int(64)) << 32n) | 5n : BigInt(rng.int(3000));
  for (let step = 0; step < 60_000; step++) {
    const t = key();
    const [lo, hi] = tokenHalves(t);
    const op = rng.int(3);
    if (op === 0) {
      const had = ref.get(t);
      assert.equal(idx.set(lo, hi, step), had ?? -1);
      if (had === undefined) ref.set(t, step);
    } else if (op === 1) {
      assert.equal(idx.get(lo, hi), ref.get(t) ?? -1);
    } else {
      assert.equal(idx.delete(lo, hi), ref.get(t) ?? -1);
      ref.delete(t);
    }
    assert.equal(idx.size, ref.size);
  }
  const seen = new Map<bigint, number>();
  idx.forEach((lo, hi, v) => seen.set(tokenOf(lo, hi), v));
  assert.deepEqual(seen, ref);
});

Deno.test("token index: halves round-trip for the whole u64 range", () => {
  for (const t of [0n, 1n, 0xffffffffn, 0x100000000n, (1n << 63n) + 7n, (1n << 64n) - 1n]) {
    const [lo, hi] = tokenHalves(t);
    assert.equal(tokenOf(lo, hi), t);
  }
});

Deno.test("token index: keys that collide on purpose switch it to the mixing hash; it stays correct", () => {
  const idx = new TokenIndex();
  // Low words that are multiples of a large power of two all share a home slot.
  for (let i = 0; i < 5000; i++) assert.equal(idx.set((i * 65536) >>> 0, i >>> 16, i), -1);
  assert.ok(idx.mixed);
  for (let i = 0; i < 5000; i++) assert.equal(idx.get((i * 65536) >>> 0, i >>> 16), i);
  const dense = new TokenIndex();
  for (let i = 0; i < 100_000; i++) dense.set(i, 0, i);
  assert.equal(dense.mixed, false);
  assert.equal(dense.get(99_999, 0), 99_999);
});
