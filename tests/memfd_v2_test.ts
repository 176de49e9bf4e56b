// memfd-v2: small files' metadata in bytes (32 descriptors per shared page),
// seals kept, more than 5 extents in a chain, shared pages freed exactly
// when their last descriptor goes; memfd-v1 still written on request.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile, SEALS } from "../mod.ts";
import { inspectArena } from "../tools.ts";
import { MEMFD_V2_SER } from "../lib/format/memfd_v2_ser.ts";
import { PHYS_BASE } from "../kho.ts";
import { assertCode } from "../testing/assert_code.ts";
import { pagesInUse } from "../testing/pages.ts";
import { tempArena } from "../testing/temp_arena.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("memfd-v2: 100 small files cost 4 descriptor pages, not 200 pages of metadata", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    const s = luo.createSession("small");
    for (let i = 0; i < 100; i++) s.preserve(MemFile.from(luo.arena, enc.encode(`file ${i}`)), i);
    luo.handover();
    const r = inspectArena(t.path);
    const kinds = new Map<string, number>();
    for (const g of r.regions) {
      const k = g.what!.replace(/ \(session.*/, "");
      kinds.set(k, (kinds.get(k) ?? 0) + g.pages);
    }
    assert.equal(kinds.get("memfd data"), 100);
    assert.equal(kinds.get("memfd-v2 descriptor page"), 4);
    assert.equal(kinds.get("memfd extent block"), undefined);
    assert.deepEqual(r.unclaimed, []);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2: seals, position and many extents come back; sealed files refuse changes", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 8 << 20 });
    const sealed = MemFile.from(luo.arena, enc.encode("sealed bytes"));
    sealed.addSeals(SEALS.grow | SEALS.shrink | SEALS.write);
    sealed.position = 3;
    const chained = MemFile.create(luo.arena);
    for (let i = 0; i < 8; i++) chained.write(new Uint8Array(4096 << i).fill(i + 1));
    assert.ok(chained.extents.length > MEMFD_V2_SER.inlineCount);
    const s = luo.createSession("s");
    s.preserve(sealed, 1n);
    s.preserve(chained, 2n);
    luo.handover();
    using next = LiveUpdate.open(t.path);
    const is = next.retrieveSession("s");
    const f = is.retrieve(1n, MemFile);
    assert.equal(f.seals, SEALS.grow | SEALS.shrink | SEALS.write);
    assert.equal(f.position, 3);
    assert.equal(dec.decode(f.read()), "sealed bytes");
    assertCode(() => f.write(new Uint8Array(1), 0), "EPERM", /memfd write: sealed/);
    assertCode(() => f.bytes(), "EPERM", /writable view: sealed/);
    assertCode(() => f.resize(1), "EPERM", /memfd shrink: sealed/);
    assertCode(() => f.addSeals(64), "EINVAL", /memfd seals 64/);
    f.addSeals(SEALS.seal);
    assertCode(() => f.addSeals(SEALS.grow), "EPERM", /sealed against new seals/);
    const c = is.retrieve(2n, MemFile);
    let at = 0;
    for (let i = 0; i < 8; i++) {
      assert.ok(c.read(at, 4096 << i).every((b) => b === i + 1), `extent run ${i}`);
      at += 4096 << i;
    }
    is.finish();
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2: a shared descriptor page is freed exactly when its last descriptor goes", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    // Sessions a and b share the first descriptor page.
    for (const name of ["a", "b"]) {
      const s = luo.createSession(name);
      for (let i = 0; i < 3; i++) s.preserve(MemFile.from(luo.arena, enc.encode(`${name}${i}`)), i);
    }
    luo.handover();
    using next = LiveUpdate.open(t.path);
    const a = next.retrieveSession("a");
    const kept = a.retrieve(0n, MemFile);
    const before = next.arena.info().handedOverBlocks;
    a.finish(); // the other two files of a are discarded; the page is still b's
    const afterA = next.arena.info();
    assert.equal(before - afterA.handedOverBlocks, 2, "two data pages of a freed, the page kept");
    next.retrieveSession("b").finish();
    assert.equal(next.arena.info().handedOverBlocks, 0, "b's files and the shared page freed");
    assert.equal(dec.decode(kept.read()), "a0");
    kept.close();
    next.discardIncoming();
    assert.equal(pagesInUse(next.arena.info()), 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2: unknown seal bits in an image are refused with EPROTO naming where", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    luo.createSession("s").preserve(MemFile.from(luo.arena, enc.encode("x")), 1n);
    luo.handover();
    const slot = BigInt(inspectArena(t.path).sessions![0].files[0].data);
    const bytes = Deno.readFileSync(t.path);
    new DataView(bytes.buffer).setUint32(Number(slot - PHYS_BASE) + MEMFD_V2_SER.seals, 0x40, true);
    Deno.writeFileSync(t.path, bytes);
    using next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("s");
    assertCode(() => s.retrieve(1n), "EPROTO", /unknown seal bits 0x40 \(at 0x[0-9a-f]+\)/);
    s.finish();
    next.releaseUnclaimed();
    next.discardIncoming();
    assert.equal(pagesInUse(next.arena.info()), 0, "nothing leaked");
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v1 is still written on request and read by default", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20, memfdFormat: "memfd-v1" });
    luo.createSession("s").preserve(MemFile.from(luo.arena, enc.encode("old format")), 1n);
    luo.handover();
    assert.equal(inspectArena(t.path).sessions![0].files[0].compatible, "memfd-v1");
    using next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("s");
    assert.equal(dec.decode(s.retrieve(1n, MemFile).read()), "old format");
    s.finish();
  } finally {
    t.cleanup();
  }
});
