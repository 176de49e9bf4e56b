// Memory files take their pages as extents (Arena.allocExtents): a file
// needs its size in free pages, not one power-of-two block of up to twice
// that. A 256 MiB file fits a 320 MiB arena and a second process reads
// every byte back; growth, views, bad arguments and population.
import assert from "node:assert/strict";
import { CorruptImageError, LiveUpdate, MemFile } from "../mod.ts";
import { inspectArena } from "../tools.ts";
import { MEMFD_V2_SER } from "../lib/format/memfd_v2_ser.ts";
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runDeno } from "../testing/child_process.ts";
import { patternByte } from "../testing/pattern.ts";
import { tempArena } from "../testing/temp_arena.ts";

const MiB = 1 << 20;
const CHILD = new URL("./children/big_memfd.ts", import.meta.url);

Deno.test("a 256 MiB file fits a 320 MiB arena; a second process reads every byte back", async () => {
  const t = tempArena();
  try {
    {
      using luo = LiveUpdate.create({ path: t.path, size: 320 * MiB, reserve: false });
      assertCode(() => luo.arena.alloc(256 * MiB), "ENOMEM"); // one power-of-two block would not
      const f = MemFile.create(luo.arena, 256 * MiB);
      assert.ok(f.extents.length > 1 && f.extents.length <= 3, `${f.extents.length} extents`);
      assert.equal(f.extents.reduce((a, e) => a + e.pages, 0) * PAGE_SIZE, 256 * MiB);
      const chunk = new Uint8Array(16 * MiB);
      for (let at = 0; at < f.size; at += chunk.length) {
        for (let i = 0; i < chunk.length; i++) chunk[i] = patternByte(1, at + i);
        f.write(chunk, at);
      }
      luo.createSession("big").preserve(f, 0n);
      luo.handover();
    }
    for (const mode of ["populate", "no-populate"]) {
      const r = await runDeno(CHILD, [t.path, mode]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      assert.deepEqual(out, { size: 256 * MiB, extents: out.extents, bad: 0 });
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("a file of S bytes hands over in an arena of S rounded up to a page, plus 48 KiB", () => {
  for (const size of [100, MiB + 1, 10 * MiB - 5]) {
    const luo = LiveUpdate.create({
      size: Math.ceil(size / PAGE_SIZE) * PAGE_SIZE + 48 * 1024,
      reserve: false,
    });
    const path = luo.arena.path;
    try {
      luo.createSession("s").preserve(MemFile.create(luo.arena, size), 0n);
      assert.equal(luo.handover().files, 1);
    } finally {
      luo.close();
      Deno.removeSync(path);
    }
  }
});

Deno.test("a file grows by its size, or by exactly what is missing; views need contiguous extents", () => {
  using arena = Arena.create({ size: MiB });
  const free = arena.info().freePages;
  const f = MemFile.create(arena);
  const page = new Uint8Array(PAGE_SIZE).fill(3);
  for (let i = 0; i < 200; i++) f.write(page);
  // 200 pages of 255 free: doubling to 256 pages does not fit, the exact rest did.
  assert.equal(f.size, 200 * PAGE_SIZE);
  const pages = f.extents.reduce((a, e) => a + e.pages, 0);
  assert.ok(pages >= 200 && pages < 256, `${pages} pages`);
  assert.equal(arena.info().freePages, free - pages);
  assert.ok(f.read().every((b) => b === 3));
  // Exactly its size: 18 pages are one block's first pages, one view.
  const g = MemFile.create(arena, 0);
  f.close();
  g.resize(18 * PAGE_SIZE - 1);
  assert.equal(g.extents.reduce((a, e) => a + e.pages, 0), 18);
  assert.equal(g.bytes().length, 18 * PAGE_SIZE - 1);
  g.close();
  assert.equal(arena.info().freePages, free);
});

Deno.test("extents that do not follow each other: no single view, read() works", () => {
  using arena = Arena.create({ size: 64 * PAGE_SIZE });
  // Only single free pages: a 3-page file takes three extents apart.
  const held = Array.from({ length: 63 }, () => arena.alloc(PAGE_SIZE));
  held.forEach((pa, i) => i % 2 === 0 && arena.free(pa));
  const f = MemFile.from(arena, new Uint8Array(3 * PAGE_SIZE).fill(9));
  assert.equal(f.extents.length, 3);
  assertCode(() => f.bytes(), "EINVAL", /extent 1 does not follow extent 0/);
  assert.ok(f.read().every((b) => b === 9));
  f.populate();
  f.populate({ write: true });
});

Deno.test("allocExtents and populate refuse bad arguments naming them", () => {
  using arena = Arena.create({ size: MiB });
  for (const bad of [NaN, -1, 1.5, 2 ** 60, "4096", 4096n, 0]) {
    assertCode(() => arena.allocExtents(bad as number), "EINVAL", /alloc_extents size/);
  }
  for (const bad of [0, -1, 0.5, NaN, 2 ** 40]) {
    assertCode(() => arena.allocExtents(PAGE_SIZE, { maxExtents: bad }), "EINVAL", /maxExtents/);
  }
  assertCode(() => arena.allocExtents(MiB), "ENOMEM", /need 256 pages, 255 are free/);
  const [e] = arena.allocExtents(PAGE_SIZE);
  assertCode(() => arena.populate([{ pa: e.pa + 1n, pages: 1 }]), "EINVAL", /region 0/);
  assertCode(
    () => arena.populate([{ pa: e.pa, pages: 1000 }]),
    "EINVAL",
    /not whole pages inside the arena/,
  );
  for (const pages of [NaN, 0.5, -1]) {
    assertCode(() => arena.populate([{ pa: e.pa, pages }]), "EINVAL", /region pages/);
  }
  assertCode(
    () => arena.populate([{ pa: 5 as unknown as bigint, pages: 1 }]),
    "EINVAL",
    /region address/,
  );
  arena.populate([e], { write: true });
});

Deno.test("a descriptor listing an extent twice: retrieve refuses it naming the extent, nothing leaks", () => {
  const t = tempArena();
  try {
    {
      using luo = LiveUpdate.create({ path: t.path, size: MiB });
      const f = MemFile.create(luo.arena, 5 * PAGE_SIZE); // 4 + 1 pages: one block's first pages
      assert.equal(f.extents.length, 2);
      luo.createSession("s").preserve(f, 0n);
      luo.handover();
    }
    const slot = BigInt(inspectArena(t.path).sessions![0].files[0].data);
    using luo = LiveUpdate.open(t.path);
    // Inline extent 1 becomes a copy of extent 0.
    const dv = luo.arena.dataView;
    const first = luo.arena.offsetOf(slot, 120) + MEMFD_V2_SER.inline;
    dv.setBigUint64(first + MEMFD_V2_SER.extent, dv.getBigUint64(first, true), true);
    dv.setBigUint64(first + MEMFD_V2_SER.extent + 8, dv.getBigUint64(first + 8, true), true);
    const s = luo.retrieveSession("s");
    const held = luo.arena.info().allocatedPages; // the session's file block
    const e = assertCode(() => s.retrieve(0n), "EBADMSG", /memfd extent 1: .*listed twice/);
    assert.ok(e.cause instanceof CorruptImageError || e instanceof CorruptImageError, e.message);
    assert.equal(luo.arena.info().allocatedPages, held, "no extent stays claimed");
    s.finish();
    luo.releaseUnclaimed();
    assert.equal(luo.arena.info().handedOverPages, 0);
  } finally {
    t.cleanup();
  }
});
