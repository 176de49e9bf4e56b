// Ports of the kernel's tools/testing/selftests/liveupdate/ that need a real
// handover: each writes in one process and verifies in another.
import assert from "node:assert/strict";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/selftests.ts", import.meta.url);

for (const [name, sessions] of [["stress-sessions", 2000], ["multi-session", 4], ["name-max", 4]]) {
  Deno.test(`selftest ${name}: across a real handover (two processes)`, async () => {
    const t = tempArena();
    try {
      const a = JSON.parse((await runOk(CHILD, ["write", String(name), t.path])).stdout);
      assert.equal(a.sessions, sessions);
      const b = JSON.parse((await runOk(CHILD, ["verify", String(name), t.path])).stdout);
      assert.deepEqual(b, { sessions, number: "1" });
    } finally {
      t.cleanup();
    }
  });
}

Deno.test("selftest prevent_double_preservation (second half): a second token for the same object is EBUSY; the successor finds the first only", async () => {
  const t = tempArena();
  try {
    const args = (stage: string) => [stage, "double-preservation", t.path];
    const a = JSON.parse((await runOk(CHILD, args("write"))).stdout);
    assert.match(a.second, /^EBUSY: .*already preserved in session "double" \(token 1\)/);
    assert.equal(a.number, "1");
    const b = JSON.parse((await runOk(CHILD, args("verify"))).stdout);
    assert.deepEqual(b, { tokens: ["1"], two: "ENOENT", bytesOk: true });
  } finally {
    t.cleanup();
  }
});
