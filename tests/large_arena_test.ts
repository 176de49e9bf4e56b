// Arenas larger than 4 GiB: every offset computation must stay exact past
// 2^32 (a `>>> 2` on a byte offset wraps there). The low 4 GiB are filled
// first so that everything the live update writes lands above them.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile } from "../mod.ts";
import { PHYS_BASE } from "../kho.ts";
import { tempArena } from "../testing/temp_arena.ts";

const GiB = 2 ** 30;

/** Allocates every free block below 4 GiB (largest first); returns them. */
function fillLowMemory(luo: LiveUpdate): bigint[] {
  const held: bigint[] = [];
  for (let size = GiB; size >= 4096; size /= 2) {
    for (let guard = 0; guard < 64; guard++) {
      const pa = luo.arena.alloc(size);
      if (pa - PHYS_BASE >= 4n * BigInt(GiB)) {
        luo.arena.free(pa);
        break;
      }
      held.push(pa);
    }
  }
  return held;
}

Deno.test("an arena over 4 GiB: chains, entries and files above 4 GiB hand over and restore", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 6 * GiB });
    const held = fillLowMemory(luo);
    const s = luo.createSession("high");
    const files = Array.from(
      { length: 300 },
      (_, i) => MemFile.from(luo.arena, new TextEncoder().encode(`high ${i}`)),
    );
    files.forEach((f, i) => s.preserve(f, i));
    assert.ok(
      files.every((f) => f.extents[0].pa - PHYS_BASE >= 4n * BigInt(GiB)),
      "data above 4 GiB",
    );
    for (const pa of held) luo.arena.free(pa);
    luo.handover();
    using next = LiveUpdate.open(t.path);
    const is = next.retrieveSession("high");
    for (let i = 0; i < 300; i++) {
      assert.equal(new TextDecoder().decode(is.retrieve(i, MemFile).read()), `high ${i}`);
    }
    is.finish();
  } finally {
    t.cleanup();
  }
});
