// Two-process handovers: `./luo stress stage1` preserves and hands over in
// one process, `stage2` retrieves and verifies every byte in another, then
// finishes everything and checks that no page is left in use.
import assert from "node:assert/strict";
import { runOk, stressStage1, stressStage2 } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CLI = new URL("../cli.ts", import.meta.url);

async function stress(sessions: number, files: number): Promise<void> {
  const t = tempArena();
  try {
    const shape = [
      "--arena",
      t.path,
      "--sessions",
      String(sessions),
      "--files",
      String(files),
      "--json",
      "--quiet",
    ];
    const a = JSON.parse((await runOk(CLI, ["stress", "stage1", ...shape])).stdout);
    assert.equal(a.files, sessions * files);
    const b = JSON.parse((await runOk(CLI, ["stress", "stage2", "--poison", ...shape])).stdout);
    assert.deepEqual(
      {
        sessions: b.sessions,
        files: b.files,
        mismatches: b.mismatches,
        pagesInUse: b.pagesInUse,
        n: b.liveupdateNumber,
      },
      { sessions, files: sessions * files, mismatches: 0, pagesInUse: 0, n: "1" },
    );
  } finally {
    t.cleanup();
  }
}

Deno.test("two processes: 2,000 sessions (the kernel's stress-sessions)", () => stress(2000, 1));
Deno.test("two processes: 500 files in one session (stress-files)", () => stress(1, 500));
Deno.test("two processes: 128 files (the old single-block limit)", () => stress(1, 128));
Deno.test("two processes: 129 files (one past the old limit)", () => stress(1, 129));
Deno.test("two processes: 10,000 files in one session", () => stress(1, 10_000));
Deno.test("two processes: 1,000 sessions x 10 files", () => stress(1000, 10));

Deno.test("two processes: the verifier fails on a wrong shape and on changed bytes", async () => {
  const t = tempArena();
  try {
    await stressStage1(t.path, 3, 4);
    // Change "file-data-1-2" in the file itself: the verifier must see it.
    const bytes = Deno.readFileSync(t.path);
    const needle = new TextEncoder().encode("file-data-1-2");
    let at = -1;
    for (let i = 0; i < bytes.length - needle.length && at < 0; i += 4096) {
      if (needle.every((b, k) => bytes[i + k] === b)) at = i;
    }
    assert.ok(at > 0, "data page found");
    const f = Deno.openSync(t.path, { write: true });
    f.seekSync(at + 10, Deno.SeekMode.Start);
    f.writeSync(new TextEncoder().encode("9"));
    f.close();
    const r = await stressStage2(t.path, 3, 5);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /stress-1 token 2: "file-data-9-2" != "file-data-1-2"/);
    assert.match(r.stderr, /stress-0: 4 files, want 5/);
  } finally {
    t.cleanup();
  }
});
