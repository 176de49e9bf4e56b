// PreservedMap under allocation failure: the Nth allocation fails, for
// every N over a workload that grows the index and the log, compacts,
// clears and reserves. The failed call changes nothing (the map still
// equals its model), no page leaks, and the same call succeeds once the
// fault is off.
import assert from "node:assert/strict";
import { Arena } from "../kho.ts";
import { failAllocAfter } from "../lib/kho/faults.ts";
import { LiveUpdateError, PreservedMap } from "../mod.ts";
import { apply, differs, type Model, opAt } from "../testing/kvmap_model.ts";

/** The workload: random operations, with a clear and a reserve in the middle. */
function step(map: PreservedMap, model: Model, i: number): void {
  if (i === 1500) {
    map.clear();
    model.clear();
  } else if (i === 2000) map.reserve(3000, 1 << 20);
  else if (i % 500 === 250) {
    // Larger than any segment so far: its segment is allocated at exactly its size.
    const value = new Uint8Array(150_000 + i).fill(i & 0xff);
    map.set(`big${i}`, value);
    model.set(`s:big${i}`, value);
  } else apply(map, model, opAt(11, i, 1500, 400));
}

/** Allocations the workload makes without faults (a segment allocation that fails is retried smaller). */
function allocations(): number {
  using arena = Arena.create({ size: 32 << 20 });
  const map = PreservedMap.create(arena);
  const before = arena.info().allocations;
  const model: Model = new Map();
  for (let i = 0; i < 3000; i++) step(map, model, i);
  return arena.info().allocations - before;
}

Deno.test("kvmap fault injection: allocation N fails, for every N; nothing changes, nothing leaks", () => {
  let points = 0;
  const total = allocations();
  for (let n = 1; n <= total; n++) {
    using arena = Arena.create({ size: 32 << 20 });
    const map = PreservedMap.create(arena);
    const model: Model = new Map();
    failAllocAfter(arena, n);
    let failed = false;
    for (let i = 0; i < 3000; i++) {
      try {
        step(map, model, i);
      } catch (e) {
        assert.ok(e instanceof LiveUpdateError && e.code === "ENOMEM", `N=${n} op ${i}: ${e}`);
        failed = true;
        assert.equal(differs(map, model), null, `N=${n} op ${i}`);
        assert.equal(arena.info().allocatedPages, map.stats().pages, `N=${n} op ${i}: leak`);
        failAllocAfter(arena, 0);
        step(map, model, i);
      }
    }
    assert.equal(differs(map, model), null, `N=${n}`);
    map.close();
    assert.equal(arena.info().allocatedPages, 0, `N=${n}`);
    if (failed) points++;
  }
  if (Deno.env.get("LUO_VERBOSE")) console.log(`kvmap allocation fault points: ${points}`);
  // Each failure of a segment's first choice of size is absorbed by a smaller one.
  assert.ok(points >= 15 && total >= 18, `only ${points} of ${total} allocations failed a call`);
});
