// Memory files as a reviewer tried them: seals that memfd-v1 cannot carry,
// a write seal over live views, damaged memfd-v2 descriptors (a damaged
// shared page, two files naming one slot or one data page, a descriptor
// address pointing into another file's data), and writes past what an
// arena can hold.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile, SEALS } from "../mod.ts";
import { inspectArena } from "../tools.ts";
import { MEMFD_V2_SER } from "../lib/format/memfd_v2_ser.ts";
import { PAGE_SIZE, PHYS_BASE } from "../kho.ts";
import { assertCode } from "../testing/assert_code.ts";
import { pagesInUse } from "../testing/pages.ts";
import { tempArena } from "../testing/temp_arena.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test("memfd-v1 refuses a sealed file (EPROTO naming it, pointing at memfd-v2), at preserve and at handover", () => {
  const t = tempArena();
  try {
    using luo = LiveUpdate.create({ path: t.path, size: 4 << 20, memfdFormat: "memfd-v1" });
    const sealed = MemFile.from(luo.arena, enc.encode("sealed"));
    sealed.addSeals(SEALS.grow | SEALS.shrink | SEALS.write | SEALS.seal);
    const s = luo.createSession("s");
    assertCode(
      () => s.preserve(sealed, 1n),
      "EPROTO",
      /session "s" token 1.*memfd-v1 cannot carry the file's seals \(seal,shrink,grow,write\).*memfd-v2/,
    );
    const later = MemFile.from(luo.arena, enc.encode("sealed after preserve"));
    s.preserve(later, 2n);
    later.addSeals(SEALS.write);
    assertCode(
      () => luo.handover(),
      "EPROTO",
      /token 2.*memfd-v1 cannot carry the file's seals \(write\)/,
    );
    assert.equal(luo.arena.info().handovers, 0n, "nothing was handed over");
    s.close();
    luo.createSession("plain").preserve(MemFile.from(luo.arena, enc.encode("x")), 1n);
    luo.handover();
  } finally {
    t.cleanup();
  }
});

Deno.test("a write seal is EBUSY while a view from bytes() can write; dropViews() empties them; futureWrite keeps them", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  const f = MemFile.from(luo.arena, enc.encode("abc"));
  const view = f.bytes();
  assertCode(
    () => f.addSeals(SEALS.write),
    "EBUSY",
    /1 view\(s\) from bytes\(\).*dropViews\(\) first/,
  );
  assert.equal(f.seals, 0, "nothing sealed");
  view[0] = 0x41; // still the file's
  assert.equal(dec.decode(f.read()), "Abc");
  f.dropViews();
  assert.equal(view.length, 0, "an emptied view writes nowhere");
  view[0] = 0x5a;
  f.addSeals(SEALS.write);
  assert.equal(dec.decode(f.read()), "Abc");
  assertCode(() => f.bytes(), "EPERM", /writable view: sealed/);
  // As Linux's F_SEAL_FUTURE_WRITE: existing views stay writable, new ones are refused.
  const g = MemFile.from(luo.arena, enc.encode("xyz"));
  const gv = g.bytes();
  g.addSeals(SEALS.futureWrite);
  gv[0] = 0x58;
  assert.equal(dec.decode(g.read()), "Xyz");
  assertCode(() => g.bytes(), "EPERM", /writable view: sealed/);
  // A view whose buffer was transferred away cannot be emptied.
  const h = MemFile.from(luo.arena, enc.encode("h"));
  const buffer = h.bytes().buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  assertCode(() => h.dropViews(), "EBUSY", /transferred away/);
  assertCode(() => h.addSeals(SEALS.write), "EBUSY", /dropViews/);
});

Deno.test("a write past what the arena can hold is EFBIG naming the offset; so is a size larger than the arena", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  const f = MemFile.create(luo.arena, 10);
  assertCode(
    () => f.write(enc.encode("x"), 2 ** 40),
    "EFBIG",
    /memfd write of 1 bytes at offset 1099511627776: it would end at 1099511627777, past the largest file the arena holds \(1048576 bytes\)/,
  );
  assertCode(() => f.resize(2 ** 40), "EFBIG", /memfd size 1099511627776: larger than the arena/);
  assert.equal(f.size, 10);
  f.write(enc.encode("end"), 100_000); // inside what the arena holds: fine
  assert.equal(f.size, 100_003);
});

/** A session of `n` one-line memfd-v2 files handed over; returns their descriptor slots. */
function handOver(path: string, n: number): bigint[] {
  const luo = LiveUpdate.create({ path, size: 8 << 20 });
  const s = luo.createSession("s");
  for (let i = 0; i < n; i++) {
    s.preserve(MemFile.from(luo.arena, enc.encode(`file ${i}`)), BigInt(i));
  }
  luo.handover();
  return inspectArena(path).sessions![0].files.map((f) => BigInt(f.data));
}

/** Rewrites the arena file: `edit` gets its bytes and the offset of physical address `pa`. */
function damage(path: string, edit: (dv: DataView, off: (pa: bigint) => number) => void): void {
  const bytes = Deno.readFileSync(path);
  edit(new DataView(bytes.buffer), (pa) => Number(pa - PHYS_BASE));
  Deno.writeFileSync(path, bytes);
}

/** Points the `luo_file_ser.data` of file `token` at `to`. */
function renameData(dv: DataView, from: bigint, token: bigint, to: bigint): void {
  // luo_file_ser: compatible[48], data, token; found by its data and token.
  for (let off = 0; off + 16 <= dv.byteLength; off += 8) {
    if (dv.getBigUint64(off, true) === from && dv.getBigUint64(off + 8, true) === token) {
      dv.setBigUint64(off, to, true);
      return;
    }
  }
  throw new Error(`no file record of token ${token}`);
}

/** Retrieves every file: its text or its error; then finishes and gives everything up. */
function retrieveAll(path: string, n: number): { got: string[]; leaked: number } {
  using next = LiveUpdate.open(path);
  const s = next.retrieveSession("s");
  const got: string[] = [];
  const kept: MemFile[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const f = s.retrieve(BigInt(i), MemFile);
      kept.push(f);
      got.push(dec.decode(f.read()));
    } catch (e) {
      got.push((e as Error).message);
    }
  }
  s.finish();
  for (const f of kept) f.close();
  next.releaseUnclaimed();
  next.discardIncoming();
  return { got, leaked: pagesInUse(next.arena.info()) };
}

Deno.test("memfd-v2 damage: a bad magic in a shared page is each of its files' error, not 'not handed over'", () => {
  const t = tempArena();
  try {
    const slots = handOver(t.path, 6);
    damage(t.path, (dv, off) => dv.setUint8(off(slots[0]) & ~(PAGE_SIZE - 1), 0x4c));
    const { got, leaked } = retrieveAll(t.path, 6);
    for (const [i, m] of got.entries()) {
      assert.match(
        m,
        new RegExp(
          `EBADMSG: session "s" token ${i}: retrieve failed: memfd-v2 descriptor page: bad magic`,
        ),
      );
    }
    assert.equal(leaked, 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2 damage: a descriptor address into another file's data page leaves that file alone", () => {
  const t = tempArena();
  try {
    const slots = handOver(t.path, 3);
    let data1 = 0n;
    damage(t.path, (dv, off) => {
      data1 = dv.getBigUint64(off(slots[1]) + MEMFD_V2_SER.inline, true);
      renameData(dv, slots[0], 0n, data1 + 256n); // a slot's offset, in file 1's data page
    });
    const { got, leaked } = retrieveAll(t.path, 3);
    assert.match(got[0], /token 0: retrieve failed: memfd-v2 descriptor page: bad magic/);
    assert.deepEqual(got.slice(1), ["file 1", "file 2"]);
    assert.equal(leaked, 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2 damage: two files naming one slot, or one data page: the second names the first", () => {
  const t = tempArena();
  try {
    // 40 files: two descriptor pages; file 0 names file 33's slot, in the other page.
    let slots = handOver(t.path, 40);
    damage(t.path, (dv) => renameData(dv, slots[0], 0n, slots[33]));
    let r = retrieveAll(t.path, 40);
    assert.equal(r.got[0], "file 33", "undetectable: file 0 reads file 33's descriptor");
    assert.match(
      r.got[33],
      /token 33: retrieve failed: memfd-v2: descriptor slot taken already by the file of session "s" token 0, which names it too/,
    );
    assert.equal(r.got.filter((m) => m.startsWith("file ")).length, 39);
    assert.equal(r.leaked, 0);
    Deno.removeSync(t.path);
    // File 0's extent is file 1's data page.
    slots = handOver(t.path, 3);
    damage(t.path, (dv, off) => {
      const data1 = dv.getBigUint64(off(slots[1]) + MEMFD_V2_SER.inline, true);
      dv.setBigUint64(off(slots[0]) + MEMFD_V2_SER.inline, data1, true);
    });
    r = retrieveAll(t.path, 3);
    assert.equal(r.got[0], "file 1", "undetectable without data checksums");
    assert.match(
      r.got[1],
      /token 1: retrieve failed: memfd extent 0x[0-9a-f]+: retrieved already with the file of session "s" token 0, which names the same pages/,
    );
    assert.equal(r.got[2], "file 2");
    assert.equal(r.leaked, 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2 damage: a data extent naming another page of descriptors: those files name the file that took it", () => {
  const t = tempArena();
  try {
    const slots = handOver(t.path, 40); // descriptor pages: slots 0..31, then 32..39
    const page = slots[33] & ~BigInt(PAGE_SIZE - 1);
    damage(t.path, (dv, off) => dv.setBigUint64(off(slots[0]) + MEMFD_V2_SER.inline, page, true));
    const r = retrieveAll(t.path, 40);
    // Undetectable for file 0 without a list of the descriptor pages: it reads that page.
    assert.notEqual(r.got[0], "file 0");
    for (let i = 32; i < 40; i++) {
      assert.match(
        r.got[i],
        new RegExp(
          `token ${i}: retrieve failed: memfd-v2 descriptor page: retrieved already as data of ` +
            `the file of session "s" token 0, which names it too`,
        ),
      );
    }
    assert.equal(r.got.slice(1, 32).filter((m, i) => m === `file ${i + 1}`).length, 31);
    assert.equal(r.leaked, 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("memfd-v2 damage: an unknown seal bit 31 is named as 0x80000000", () => {
  const t = tempArena();
  try {
    const slots = handOver(t.path, 1);
    damage(t.path, (dv, off) => dv.setUint32(off(slots[0]) + MEMFD_V2_SER.seals, 0x80000000, true));
    const { got, leaked } = retrieveAll(t.path, 1);
    assert.match(got[0], /EPROTO: .*unknown seal bits 0x80000000 \(at 0x/);
    assert.equal(leaked, 0);
  } finally {
    t.cleanup();
  }
});
