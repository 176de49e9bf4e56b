// File-lifecycle-bound objects (the kernel's luo_flb.c) across a real
// handover: preserved with the first file that uses them, unpreserved with
// the last, handed over once with their file count, retrievable before any
// of their files, finished with the last of their files.
import assert from "node:assert/strict";
import { type FlbOps, LiveUpdate, Value } from "../mod.ts";
import { inspectArena } from "../tools.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/flb.ts", import.meta.url);

Deno.test("flb: reference counts both ways across two processes", async () => {
  const t = tempArena();
  try {
    const a = JSON.parse((await runOk(CHILD, ["write", t.path])).stdout);
    assert.deepEqual(a, [
      "flb preserve",
      "preserve one (index-of-42)",
      "preserve two (index-of-42)",
      "preserve temporary (index-of-42)",
      "preserve three (index-of-42)",
    ]);
    const report = inspectArena(t.path);
    assert.deepEqual(report.flbs?.map((f) => [f.compatible, f.count]), [["shared-index-v1", 3]]);
    // The three indexed pages and the index page: inspect has no handler to describe them.
    assert.equal(report.unclaimed.length, 4);
    const b = JSON.parse((await runOk(CHILD, ["verify", t.path])).stdout);
    assert.deepEqual(b, [
      "flb retrieve",
      "get index-of-42",
      "retrieve one (index-of-42)",
      "retrieve two (index-of-42)",
      "finish 2 retrieved",
      "finish 1 retrieved",
      "finish 1 none",
      "flb finish retrieved",
      "pages in use 0",
    ]);
  } finally {
    t.cleanup();
  }
});

Deno.test("flb: registration errors, the outgoing lookup, an unknown FLB in the image", () => {
  const t = tempArena();
  try {
    let unpreserved = 0;
    const flb: FlbOps<number> = {
      compatible: "counter-v1",
      preserve: () => ({ obj: 7, data: 5n }),
      unpreserve: () => void unpreserved++,
      retrieve: () => 7,
      finish: () => {},
    };
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20 });
    assertCode(
      () => luo.registerFlb("value-v1", { ...flb, finish: undefined } as never),
      "EINVAL",
      /lacks the op finish/,
    );
    luo.registerFlb("value-v1", flb);
    assertCode(() => luo.registerFlb("value-v1", flb), "EEXIST", /attached to "value-v1" already/);
    assertCode(() => luo.registerFlb("memfd-v1", { ...flb }), "EEXIST", /another flb "counter-v1"/);
    assertCode(() => luo.flbOutgoing("counter-v1"), "ENOENT", /no preserved file uses it/);
    const s = luo.createSession("s");
    const v = new Value(1);
    s.preserve(v, 1n);
    assert.equal(luo.flbOutgoing("counter-v1"), 7);
    s.unpreserve(1n);
    assert.equal(unpreserved, 1);
    s.preserve(v, 1n);
    luo.handover();
    // A successor that does not register the FLB cannot use the image.
    using next = LiveUpdate.open(t.path);
    assertCode(() => next.incomingSessions(), "EIO", /unknown flb "counter-v1"/);
  } finally {
    t.cleanup();
  }
});
