// Format compatibility: an arena written by an earlier main (kept gzipped
// in tests/golden/, made by tests/golden/generate.ts) restores with this
// code, and this code writes the same workload byte for byte as
// tests/golden/writes.arena.gz (regenerate that one, saying why in the
// commit, only when the writer changes on purpose: it last did when memory
// files took their pages as extents, exactly their size, not one
// power-of-two block).
import assert from "node:assert/strict";
import { LiveUpdate, MemFile, Value } from "../mod.ts";
import { convertArena, inspectArena } from "../tools.ts";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const GOLDEN = new URL("./golden/main-2026-11-28.arena.gz", import.meta.url);
const WRITES = new URL("./golden/writes.arena.gz", import.meta.url);
const GENERATE = new URL("./golden/generate.ts", import.meta.url);
const dec = new TextDecoder();

async function gunzip(url: URL): Promise<Uint8Array> {
  const stream = (await fetch(url)).body!.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Retrieves every session and file of the golden workload and checks every byte. */
function verifyGolden(path: string): void {
  {
    using luo = LiveUpdate.open(path, { poison: true });
    assert.equal(luo.incomingNumber, 1n);
    assert.deepEqual(luo.incomingSessions(), ["alpha", "beta-" + "x".repeat(58), "empty", "many"]);
    const a = luo.retrieveSession("alpha");
    assert.deepEqual(a.tokens(), [1n, 2n ** 63n, 7n]);
    assert.equal(dec.decode(a.retrieve(1n, MemFile).read()), "hello, golden successor");
    const big = a.retrieve(2n ** 63n, MemFile);
    assert.equal(big.position, 1234);
    assert.deepEqual(big.read(), new Uint8Array(10000).map((_, i) => (i * 7) & 0xff));
    assert.equal(a.retrieve(7n, MemFile).size, 0);
    const b = luo.retrieveSession("beta-" + "x".repeat(58));
    assert.deepEqual(
      b.retrieve(0n, Value).value,
      new Map<string, unknown>([["n", 42], ["list", [1, 2, 3]]]),
    );
    const many = luo.retrieveSession("many");
    for (let i = 0; i < 130; i++) {
      assert.equal(dec.decode(many.retrieve(BigInt(i * 3), MemFile).read()), `file ${i}`);
    }
    for (const s of [a, b, many, luo.retrieveSession("empty")]) s.finish();
  }
}

Deno.test("golden: an arena written by the earlier main restores, every byte", async () => {
  const t = tempArena();
  try {
    Deno.writeFileSync(t.path, await gunzip(GOLDEN), { mode: 0o600 });
    verifyGolden(t.path);
  } finally {
    t.cleanup();
  }
});

Deno.test("golden: convert rewrites its memfd-v1 files as memfd-v2 in place, data untouched", async () => {
  const t = tempArena();
  try {
    Deno.writeFileSync(t.path, await gunzip(GOLDEN), { mode: 0o600 });
    const dataBefore = inspectArena(t.path).regions.filter((r) => r.what?.startsWith("memfd data"));
    const r = convertArena(t.path);
    assert.deepEqual([r.from, r.memfdConverted, r.rewritten], ["luo-session-v4", 133, true]);
    const after = inspectArena(t.path);
    assert.deepEqual(after.unclaimed, []);
    assert.ok(after.sessions!.every((s) => s.files.every((f) => f.compatible !== "memfd-v1")));
    const dataAfter = after.regions.filter((r) => r.what?.startsWith("memfd data"));
    assert.deepEqual(dataAfter.map((d) => d.pa), dataBefore.map((d) => d.pa), "no data page moved");
    verifyGolden(t.path);
    assert.equal(convertArena(t.path).rewritten, false, "a second convert has nothing to do");
  } finally {
    t.cleanup();
  }
});

Deno.test("golden: this code writes the same workload byte for byte", async () => {
  const t = tempArena();
  try {
    await runOk(GENERATE, [t.path]);
    const ours = Deno.readFileSync(t.path);
    const theirs = await gunzip(WRITES);
    assert.equal(ours.length, theirs.length);
    const first = ours.findIndex((b, i) => b !== theirs[i]);
    assert.equal(first, -1, `first difference at byte ${first}`);
    verifyGolden(t.path);
  } finally {
    t.cleanup();
  }
});
