// What a memory file holds beyond its size: a shrink gives back every page
// past the new size (emptying the views that reach them; the extent with
// the last byte is split in place), and a file grown by appends hands over
// exactly the pages its bytes need (growth slack given back at preserve),
// checked in a fresh successor.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile } from "../mod.ts";
import { tempArena } from "../testing/temp_arena.ts";

const PAGE = 4096;

Deno.test("memfd shrink gives back every page past the new size; resize(0) frees them all", () => {
  using luo = LiveUpdate.create({ size: 64 << 20 });
  const free0 = luo.arena.info().freePages;
  using f = MemFile.create(luo.arena, 40 << 20); // a 32 MiB extent and an 8 MiB one
  assert.equal(f.extents.length, 2);
  f.resize(PAGE + 1); // two pages: the first extent's tail is split off and freed
  assert.deepEqual(f.extents.map((e) => e.pages), [2]);
  assert.equal(luo.arena.info().freePages, free0 - 2);
  f.resize(5 * PAGE); // grows again: new bytes are zero
  assert.equal(f.read(PAGE + 1).every((b) => b === 0), true);
  f.resize(0);
  assert.equal(f.extents.length, 0);
  assert.equal(luo.arena.info().freePages, free0, "resize(0) gives every page back");
  using g = MemFile.create(luo.arena, 40 << 20); // fits again
  assert.equal(g.size, 40 << 20);
});

Deno.test("memfd shrink empties the views that reach a freed extent, and only those", () => {
  using luo = LiveUpdate.create({ size: 4 << 20 });
  using first = MemFile.create(luo.arena, PAGE); // takes page 1: the next file's extents follow each other
  using f = MemFile.from(luo.arena, new Uint8Array(3 * PAGE).fill(1));
  assert.deepEqual(f.extents.map((e) => e.pages), [2, 1]);
  assert.equal(f.extents[1].pa, f.extents[0].pa + BigInt(2 * PAGE), "contiguous (one view)");
  const whole = f.bytes();
  f.resize(2 * PAGE); // the 1-page extent holds nothing now
  assert.equal(whole.length, 0, "it reached the freed extent");
  assert.deepEqual(f.extents.map((e) => e.pages), [2]);
  const part = f.bytes();
  f.resize(PAGE + 1); // inside the extent left: nothing freed
  assert.equal(part.length, 2 * PAGE, "nothing freed under it: it stays");
  f.resize(2 * PAGE);
  assert.deepEqual([...f.read(PAGE - 2, 4)], [1, 1, 1, 0], "bytes past the shrink are zero");
  const two = f.bytes();
  f.resize(10); // the extent holding byte 0 is split: its second page goes back
  assert.equal(two.length, 0, "it reached the page given back");
  assert.deepEqual(f.extents.map((e) => e.pages), [1]);
  assert.equal(first.size, PAGE);
});

Deno.test("memfd preserve gives back growth slack under a live view, which stays as it was", () => {
  using luo = LiveUpdate.create({ size: 4 << 20 });
  using first = MemFile.create(luo.arena, PAGE); // takes page 1: the next file's extents follow each other
  const f = MemFile.from(luo.arena, new Uint8Array(3 * PAGE).fill(7));
  const view = f.bytes(); // its 3 pages
  f.write(new Uint8Array([9]), 3 * PAGE); // a growth: 3 pages more, 1 byte used
  assert.equal(f.extents.reduce((n, e) => n + e.pages, 0), 6);
  luo.createSession("s").preserve(f, 1n);
  assert.equal(f.extents.reduce((n, e) => n + e.pages, 0), 4, "the slack went back");
  assert.equal(view.length, 3 * PAGE, "the view did not reach it: it stays");
  assert.deepEqual([view[0], view[3 * PAGE - 1], ...f.read(3 * PAGE)], [7, 7, 9]);
  assert.equal(first.size, PAGE);
});

Deno.test("memfd shrink under a view transferred away frees nothing it reaches, and zeroes what it cut", () => {
  using luo = LiveUpdate.create({ size: 4 << 20 });
  using first = MemFile.create(luo.arena, PAGE);
  const f = MemFile.from(luo.arena, new Uint8Array(3 * PAGE).fill(5));
  const view = f.bytes();
  const moved = structuredClone(view, { transfer: [view.buffer as ArrayBuffer] });
  const free = luo.arena.info().freePages;
  f.resize(10);
  assert.equal(luo.arena.info().freePages, free, "the transferred view still reaches every page");
  assert.equal(moved[9], 5);
  assert.equal(moved[10], 0, "the bytes cut off are zeroed");
  f.close(); // its pages are never reused in this process
  using g = MemFile.create(luo.arena, 3 * PAGE);
  assert.equal(g.size, 3 * PAGE);
  assert.equal(luo.arena.info().freePages, free - 3, "g took other pages");
  assert.equal(first.size, PAGE);
});

Deno.test("memfd grown by appends hands over exactly the pages its bytes need (fresh successor)", async () => {
  const t = tempArena();
  try {
    const size = 41_943_080; // 10,241 pages
    const luo = LiveUpdate.create({ path: t.path, size: 128 << 20 });
    const s = luo.createSession("appends");
    for (const [token, chunk] of [[1n, PAGE], [2n, 65_536], [3n, 1 << 20]] as const) {
      const f = MemFile.create(luo.arena);
      const buf = new Uint8Array(chunk).fill(Number(token));
      for (let at = 0; at < size; at += chunk) f.write(buf.subarray(0, Math.min(chunk, size - at)));
      s.preserve(f, token);
    }
    luo.handover();
    luo.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `
        import { LiveUpdate, MemFile } from ${
          JSON.stringify(new URL("../mod.ts", import.meta.url).href)
        };
        using luo = LiveUpdate.open(${JSON.stringify(t.path)});
        const s = luo.retrieveSession("appends");
        const out = [];
        for (const token of [1n, 2n, 3n]) {
          const f = s.retrieve(token, MemFile);
          const bytes = f.read();
          out.push({ size: f.size, pages: f.extents.reduce((n, e) => n + e.pages, 0),
            right: bytes.every((b) => b === Number(token)) });
        }
        s.finish();
        console.log(JSON.stringify(out));`,
      ],
      stdout: "piped",
    });
    const out = await child.output();
    assert.ok(out.success);
    const files = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      size: number;
      pages: number;
      right: boolean;
    }[];
    const need = Math.ceil(size / PAGE);
    for (const f of files) {
      assert.equal(f.size, size);
      assert.ok(f.right, "every byte as written");
      assert.equal(
        f.pages,
        need,
        "exactly the pages its bytes need: the growth slack was given back",
      );
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("a view transferred away keeps the arena mapped after its file and the arena close (a second process)", async () => {
  for (const how of ["close", "dropViews"]) {
    const code = `
      import { LiveUpdate, MemFile } from ${
      JSON.stringify(new URL("../mod.ts", import.meta.url).href)
    };
      const luo = LiveUpdate.create({ size: 1 << 20 });
      const f = MemFile.from(luo.arena, new Uint8Array(8192).fill(3));
      const view = f.bytes();
      const moved = structuredClone(view, { transfer: [view.buffer] });
      try { f.${how}(); } catch (e) { if (e.code !== "EBUSY") throw e; }
      luo.close();
      for (let i = 0; i < 3; i++) { new Uint8Array(1 << 24); globalThis.gc?.(); }
      moved[1] = 4;
      console.log(moved[0] + moved[1]);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--expose-gc", code],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.signal, null, `${how}: killed by ${out.signal} ${err}`);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "7", `${how}: ${err}`);
  }
});

Deno.test("a successor's shrink of a retrieved file leaves the predecessor's bytes for a restart", () => {
  const t = tempArena();
  try {
    const old = LiveUpdate.create({ path: t.path, size: 16 << 20 });
    const s = old.createSession("s");
    const sizes = [10, 4096, 70_000, 1 << 20];
    for (const [i, n] of sizes.entries()) {
      s.preserve(MemFile.from(old.arena, new Uint8Array(n).fill(i + 1)), BigInt(i));
    }
    old.handover();
    old.close();
    const next = LiveUpdate.open(t.path);
    const got = next.retrieveSession("s");
    for (const i of sizes.keys()) got.retrieve(BigInt(i), MemFile).resize(1);
    next.close(); // as a crash before its own handover
    using again = LiveUpdate.open(t.path);
    const back = again.retrieveSession("s");
    for (const [i, n] of sizes.entries()) {
      const f = back.retrieve(BigInt(i), MemFile);
      assert.equal(f.size, n);
      assert.ok(f.read().every((b) => b === i + 1), `file ${i}: the predecessor's bytes`);
    }
    back.finish();
  } finally {
    t.cleanup();
  }
});

Deno.test("appends that fill an arena take a bounded number of extents (half the free space per growth at the end)", () => {
  using luo = LiveUpdate.create({ size: 16 << 20 });
  const f = MemFile.create(luo.arena);
  const chunk = new Uint8Array(PAGE).fill(1);
  const room = (luo.arena.info().freePages - 64) * PAGE;
  for (let at = 0; at < room; at += PAGE) f.write(chunk);
  assert.ok(f.extents.length < 64, `${f.extents.length} extents for ${room / PAGE} pages`);
  assert.ok(f.read(room - PAGE).every((b) => b === 1));
  f.close();
});
