// Creating arena files safely: the file appears under its name only when
// complete (of racing creators exactly one wins, and no opener ever sees a
// half-made file), its blocks are reserved so that a full filesystem is
// ENOSPC up front, a failed create leaves no file, and one process may hold
// more than 64 arenas.
import assert from "node:assert/strict";
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";
import { assertCode } from "../testing/assert_code.ts";
import { childArgs, runChild, works } from "../testing/arena_file_child.ts";
import { tempArena } from "../testing/temp_arena.ts";

const MiB = 1 << 20;

/** Bytes the filesystem has allocated for a file. */
function backedBytes(path: string): number {
  return Deno.statSync(path).blocks! * 512;
}

Deno.test("create: of 8 racing processes exactly one creates, the others open a complete file or find it held", async () => {
  const t = tempArena();
  try {
    for (let round = 0; round < 3; round++) {
      const path = `${t.dir}/race-${round}.arena`;
      const runs = await Promise.all(
        Array.from({ length: 8 }, () => runChild(childArgs("start", path))),
      );
      const outcomes = runs.map((r) => {
        assert.equal(r.outcomes.length, 1, r.stderr);
        return r.outcomes[0];
      });
      assert.equal(outcomes.filter((o) => o.created).length, 1, JSON.stringify(outcomes));
      for (const o of outcomes) {
        // Never "not an arena" nor a damaged header: only success or a live holder.
        assert.ok(o.ok || o.code === "EBUSY", JSON.stringify(o));
      }
      Arena.open(path).close();
    }
    // Nothing but the three arenas: no temporary file was left behind.
    assert.deepEqual([...Deno.readDirSync(t.dir)].map((e) => e.name).sort(), [
      "race-0.arena",
      "race-1.arena",
      "race-2.arena",
    ]);
  } finally {
    t.cleanup();
  }
});

Deno.test("create: an existing name is EEXIST and the file is left as it was", () => {
  const t = tempArena();
  try {
    const a = Arena.create({ path: t.path, size: 16 * PAGE_SIZE });
    const pa = a.allocPreserve(PAGE_SIZE);
    a.bytes(pa, 3).set([1, 2, 3]);
    a.handover(pa);
    a.close();
    const before = Deno.readFileSync(t.path);
    assertCode(
      () => Arena.create({ path: t.path, size: 32 * PAGE_SIZE }),
      "EEXIST",
      /already exists/,
    );
    assert.deepEqual(Deno.readFileSync(t.path), before);
    assertCode(() => Arena.create({ path: `${t.dir}/`, size: 16 * PAGE_SIZE }), "EISDIR");
    assertCode(() => Arena.create({ path: `${t.dir}/no/such/dir.arena` }), "ENOENT");
  } finally {
    t.cleanup();
  }
});

Deno.test("create: blocks are reserved (the file is fully backed); reserve: false leaves it sparse", () => {
  const t = tempArena();
  try {
    Arena.create({ path: t.path, size: 4 * MiB }).close();
    assert.ok(backedBytes(t.path) >= 4 * MiB, `${backedBytes(t.path)} bytes backed`);
    const sparse = `${t.dir}/sparse.arena`;
    Arena.create({ path: sparse, size: 4 * MiB, reserve: false }).close();
    assert.ok(backedBytes(sparse) < MiB, `${backedBytes(sparse)} bytes backed`);
    Arena.open(sparse, { reserve: false }).close();
    assert.ok(backedBytes(sparse) < MiB, "an open with reserve: false filled the holes");
    // A writable open fills the holes, so that no write can SIGBUS later.
    Arena.open(sparse).close();
    assert.ok(backedBytes(sparse) >= 4 * MiB, `${backedBytes(sparse)} bytes backed after open`);
  } finally {
    t.cleanup();
  }
});

Deno.test("create: an arena larger than the free space is ENOSPC up front, naming both, and leaves no file", () => {
  const t = tempArena();
  try {
    const huge = 2 ** 43; // 8 TiB, the largest arena
    assertCode(
      () => Arena.create({ path: t.path, size: huge }),
      "ENOSPC",
      /the arena needs 8796093022208 bytes, the filesystem has \d+ free/,
    );
    assert.deepEqual([...Deno.readDirSync(t.dir)], []);
  } finally {
    t.cleanup();
  }
});

Deno.test("open: a sparse arena too large to back is ENOSPC at open, never SIGBUS (a separate process)", async () => {
  const t = tempArena();
  try {
    // 1 TiB, sparse: creating it costs nothing.
    Arena.create({ path: t.path, size: 2 ** 40, reserve: false }).close();
    const r = await runChild(childArgs("open", t.path, JSON.stringify({ poison: true })));
    assert.equal(r.code, 0, `the child died: ${r.stderr}`);
    assert.equal(r.outcomes[0]?.code, "ENOSPC", r.stderr);
    assert.match(
      r.outcomes[0].message!,
      /the file has holes .* and filling them failed: no space left/,
    );
  } finally {
    t.cleanup();
  }
});

Deno.test({
  name: "a full and a read-only filesystem: ENOSPC, EROFS, no file left (own mount namespace)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const unshare = ["unshare", "-m", "--propagation", "private"];
    if (!(await works([...unshare, "true"]))) {
      console.log("skipped: no private mount namespace here (unshare -m)");
      return;
    }
    const t = tempArena();
    try {
      const dir = `${t.dir}/mnt`;
      Deno.mkdirSync(dir);
      const q = (argv: string[]) => argv.map((a) => `'${a}'`).join(" ");
      const script = [
        `mount -t tmpfs -o size=4m,mode=0700 tmpfs '${dir}'`,
        q(childArgs("create", `${dir}/big.arena`, String(8 * MiB))),
        q(childArgs("create", `${dir}/sparse.arena`, String(8 * MiB), '{"reserve":false}')),
        q(childArgs("open", `${dir}/sparse.arena`, '{"poison":true}')),
        q(childArgs("create", `${dir}/small.arena`, String(MiB))),
        `echo "{\\"files\\":\\"$(ls -A '${dir}' | tr '\\n' ' ')\\"}"`,
        `mount -o remount,ro '${dir}'`,
        q(childArgs("open", `${dir}/small.arena`)),
        q(childArgs("open", `${dir}/small.arena`, '{"readOnly":true}')),
      ].join(" && ");
      const r = await runChild([...unshare, "sh", "-c", script]);
      assert.equal(r.code, 0, r.stderr);
      const [big, sparse, sparseOpen, small, files, ro, inspect] = r.outcomes as Record<
        string,
        string
      >[];
      assert.equal(big.code, "ENOSPC", JSON.stringify(big));
      assert.match(big.message, /needs 8388608 bytes, the filesystem has \d+ free/);
      assert.equal(sparse.ok, true, JSON.stringify(sparse));
      assert.equal(sparseOpen.code, "ENOSPC", JSON.stringify(sparseOpen));
      assert.equal(small.ok, true, JSON.stringify(small));
      assert.equal(files.files.trim().split(" ").sort().join(" "), "small.arena sparse.arena");
      assert.equal(ro.code, "EROFS", JSON.stringify(ro));
      assert.match(ro.message, /read-only file system/);
      assert.equal(inspect.ok, true, JSON.stringify(inspect));
    } finally {
      t.cleanup();
    }
  },
});

Deno.test("one process holds more than 64 arenas at once; closed handles stay dead", () => {
  const arenas = Array.from({ length: 100 }, () => Arena.create({ size: 2 * PAGE_SIZE }));
  try {
    for (const a of arenas) a.bytes(a.alloc(PAGE_SIZE), 1)[0] = 7;
    assert.equal(new Set(arenas.map((a) => a.path)).size, 100);
  } finally {
    for (const a of arenas) a.close();
  }
  assertCode(() => arenas[0].info(), "EBADF");
});
