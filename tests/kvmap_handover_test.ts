// A PreservedMap of 100k keys carried through three handovers, each
// generation a separate process that verifies every key of the previous
// one before changing it; the last one frees everything.
import assert from "node:assert/strict";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/kvmap_gen.ts", import.meta.url);
const N = 100_000;

Deno.test("kvmap: 100k keys through three handovers between processes, every key verified", async () => {
  const t = tempArena();
  try {
    await runOk(CHILD, ["gen", t.path, "1", String(N)]);
    const runs = [];
    for (const g of [2, 3, 4]) {
      runs.push(JSON.parse((await runOk(CHILD, ["gen", t.path, String(g), String(N)])).stdout));
    }
    const last = JSON.parse((await runOk(CHILD, ["last", t.path, "4", String(N)])).stdout);
    assert.equal(runs[0].verified, N);
    for (const r of [...runs.slice(1), last]) assert.ok(r.verified >= N, `${r.verified} verified`);
    assert.equal(last.keys, last.verified);
  } finally {
    t.cleanup();
  }
});
