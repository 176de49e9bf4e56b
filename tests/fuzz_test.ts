// Corruption fuzzing: seeded damage to real handed-over arenas (maps
// included, with damage aimed at their structures) always ends
// in a correct restore or a typed error naming where, within a bounded
// time, with consistent page accounting. Saved failing cases are replayed.
import assert from "node:assert/strict";
import { campaign, type Regression, replay } from "../testing/fuzz/run.ts";
import { testArenaDir } from "../testing/temp_arena.ts";
import type { Base, Shape } from "../testing/fuzz/shapes.ts";

const REGRESSIONS = new URL("./fuzz_regressions/", import.meta.url);

function shmDir(): string {
  return Deno.makeTempDirSync({ prefix: "luo-fuzz-test-", dir: testArenaDir() });
}

Deno.test("fuzz: 2,500 seeded corruption cases: no crash, no hang, no leak, no vague error", () => {
  const dir = shmDir();
  try {
    const s = campaign({ cases: 2500, seed: 20261127, dir });
    assert.equal(s.cases, 2500);
    assert.equal(s.crashes, 0);
    assert.equal(s.hangs, 0);
    assert.equal(s.failures, 0, JSON.stringify(s));
    // The damage really is detected: most cases end in a typed error.
    assert.ok((s.byResult.EBADMSG ?? 0) > 1000, JSON.stringify(s.byResult));
    assert.ok((s.byResult.ok ?? 0) > 100, JSON.stringify(s.byResult));
    for (
      const kind of [
        "block-next",
        "block-count",
        "name-no-nul",
        "token-duplicate",
        "fdt-header",
        "truncate",
      ]
    ) {
      assert.ok((s.byKind[kind] ?? 0) > 20, `${kind}: ${s.byKind[kind]}`);
    }
    for (const kind of ["header", "state", "dir", "segment", "slot", "record"]) {
      const n = s.byKind[`kvmap-${kind}`] ?? 0;
      assert.ok(n > 25, `kvmap-${kind}: ${n} cases`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("fuzz: saved regression cases replay cleanly", () => {
  const dir = shmDir();
  const bases = new Map<Shape, Base>();
  try {
    let n = 0;
    for (const e of Deno.readDirSync(REGRESSIONS)) {
      if (!e.name.endsWith(".json")) continue;
      const reg: Regression = JSON.parse(Deno.readTextFileSync(new URL(e.name, REGRESSIONS)));
      const o = replay(reg, dir, bases);
      assert.equal(o.failure, undefined, `${e.name} (${reg.mutation.description}): ${o.failure}`);
      n++;
    }
    assert.ok(n >= 1, "at least one regression case is stored");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
