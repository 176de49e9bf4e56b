import assert from "node:assert/strict";
import { runDeno, runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/kho_stages.ts", import.meta.url);

Deno.test("arena handover: a separate process restores every preserved byte", async () => {
  const t = tempArena();
  try {
    const a = await runOk(CHILD, ["write", t.path]);
    const written = JSON.parse(a.stdout);
    assert.equal(written.regions.length, 7);
    const b = await runOk(CHILD, ["verify", t.path, a.stdout.trim()]);
    assert.deepEqual(JSON.parse(b.stdout), { ok: true, verified: 7, allocatedBefore: 8 });
  } finally {
    t.cleanup();
  }
});

Deno.test("arena handover: the verifier catches a changed byte", async () => {
  const t = tempArena();
  try {
    const a = await runOk(CHILD, ["write", t.path]);
    const written = JSON.parse(a.stdout);
    // Flip one byte of the third region in the file itself.
    const off = Number(BigInt(written.regions[2].pa) - 0x1_0000_0000n) + 4000;
    const f = await Deno.open(t.path, { read: true, write: true });
    const one = new Uint8Array(1);
    await f.seek(off, Deno.SeekMode.Start);
    await f.read(one);
    one[0] ^= 0xff;
    await f.seek(off, Deno.SeekMode.Start);
    await f.write(one);
    f.close();
    const b = await runDeno(CHILD, ["verify", t.path, a.stdout.trim()]);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /region 2 byte 4000/);
  } finally {
    t.cleanup();
  }
});
