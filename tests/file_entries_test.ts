// The incoming file entries reader (FileEntries over the native
// kho_read_records): lookups by index and token, chains whose blocks are
// not full, tables that grow, and every refusal worded as before, with
// nothing claimed.
import assert from "node:assert/strict";
import { CorruptImageError, KhoError } from "../lib/errors.ts";
import { CompatTable } from "../lib/format/compat_table.ts";
import { FILE_SER, type FileChain, FileEntries } from "../lib/format/file_ser.ts";
import { Arena, PAGE_SIZE, PHYS_BASE } from "../lib/kho/arena.ts";
import { readRecords } from "../lib/kho/records.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";

const BLOCK = 8192;
const enc = new TextEncoder();

interface Built {
  arena: Arena;
  heads: bigint[];
  cleanup: () => void;
}

/**
 * Hands over a file chain whose blocks hold `counts` entries (compatible
 * `compat(i)`, token `token(i)`, data i), then opens the arena again.
 */
function build(
  counts: number[],
  compat = (_i: number) => "memfd-v2",
  token = (i: number) => BigInt(i * 3),
  mutate?: (a: Arena, heads: bigint[]) => void,
): Built {
  const t = tempArena();
  const a = Arena.create({ path: t.path, size: 8 << 20 });
  const heads = counts.map(() => a.allocPreserve(BLOCK, { zero: true }));
  const dv = a.dataView;
  let i = 0;
  counts.forEach((n, k) => {
    const off = Number(heads[k] - PHYS_BASE);
    dv.setBigUint64(off, heads[k + 1] ?? 0n, true);
    dv.setBigUint64(off + 8, BigInt(n), true);
    for (let j = 0; j < n; j++, i++) {
      const e = off + 16 + j * FILE_SER.size;
      a.memory.set(enc.encode(compat(i)), e);
      dv.setBigUint64(e + FILE_SER.data, BigInt(i), true);
      dv.setBigUint64(e + FILE_SER.token, token(i), true);
    }
  });
  mutate?.(a, heads);
  a.handover(heads[0] ?? a.allocPreserve(PAGE_SIZE));
  a.close();
  const arena = Arena.open(t.path);
  return {
    arena,
    heads,
    cleanup: () => {
      arena.close();
      t.cleanup();
    },
  };
}

function chain(b: Built, expected: number, extra: Partial<FileChain> = {}): FileChain {
  return {
    head: b.heads[0] ?? 0n,
    expected,
    maxBlocks: 100,
    claim: true,
    what: "file chain",
    ...extra,
  };
}

const KNOWN = ["memfd-v2", "value-v1"];

Deno.test("file entries: read in place, looked up by index and token, blocks freed by release", () => {
  const b = build([127, 127, 46], (i) => KNOWN[i % 7 === 0 ? 1 : 0]);
  try {
    const before = b.arena.info();
    const e = FileEntries.readChain(b.arena, chain(b, 300), "s", new CompatTable(KNOWN));
    assert.equal(e.count, 300);
    assert.equal(b.arena.info().handedOverBlocks, before.handedOverBlocks - 3);
    assert.deepEqual(e.runs.map((r) => r.count), [127, 127, 46]);
    for (const i of [0, 1, 126, 127, 254, 299]) {
      assert.equal(e.token(i), BigInt(i * 3));
      assert.equal(e.data(i), BigInt(i));
      assert.equal(e.find(i * 3, 0), i);
      assert.equal(e.compatible(i), KNOWN[i % 7 === 0 ? 1 : 0]);
    }
    assert.equal(e.find(1, 0), -1);
    assert.deepEqual(e.compatibleCounts(), new Map([["value-v1", 43], ["memfd-v2", 257]]));
    e.release();
    e.release();
    assert.equal(b.arena.info().deferredPages, before.deferredPages + 6);
  } finally {
    b.cleanup();
  }
});

Deno.test("file entries: blocks that are not full (read again with room) and uneven runs", () => {
  const b = build([20, 20, 20, 20, 20, 20, 20, 20, 20, 20]); // 10 blocks where 2 would do
  const c = build([127, 50, 123]);
  try {
    const e = FileEntries.readChain(b.arena, chain(b, 200), "s", new CompatTable(KNOWN));
    assert.equal(e.runs.length, 10);
    for (const i of [0, 19, 20, 199]) assert.equal(e.token(i), BigInt(i * 3));
    const f = FileEntries.readChain(c.arena, chain(c, 300), "s", new CompatTable(KNOWN));
    for (const i of [126, 127, 176, 177, 299]) {
      assert.equal(f.data(i), BigInt(i));
      assert.equal(f.find(i * 3, 0), i);
    }
  } finally {
    b.cleanup();
    c.cleanup();
  }
});

Deno.test("file entries: small sets scan; tokens that defeat the dense hash; an open table grows", () => {
  const small = build([5]);
  const colliding = build([127, 127, 127], undefined, (i) => BigInt(i) * 65536n);
  const many = build([127, 73], (i) => `compat-${i % 150}`);
  try {
    const table = new CompatTable(KNOWN);
    for (let k = 0; k < 2; k++) {
      const e = FileEntries.readChain(small.arena, chain(small, 5, { claim: k === 0 }), "s", table);
      assert.equal(e.find(12, 0), 4);
      assert.equal(e.find(13, 0), -1);
    }
    const e = FileEntries.readChain(
      colliding.arena,
      chain(colliding, 381),
      "s",
      new CompatTable(KNOWN),
    );
    for (let i = 0; i < 381; i += 17) {
      assert.equal(e.find((i * 65536) >>> 0, Math.floor(i / 65536)), i);
    }
    const any = new CompatTable("any");
    const m = FileEntries.readChain(many.arena, chain(many, 200, { claim: false }), "s", any);
    assert.equal(any.names.length, 150);
    assert.equal(m.compatible(149), "compat-149");
    assert.equal(m.compatible(199), "compat-49");
  } finally {
    small.cleanup();
    colliding.cleanup();
    many.cleanup();
  }
});

/** Expects a CorruptImageError of `code` matching `pattern` at `where`; nothing was claimed. */
function refused(
  b: Built,
  spec: FileChain,
  pattern: RegExp,
  where: bigint,
  code = "EBADMSG",
  known: readonly string[] | "any" = KNOWN,
) {
  const before = b.arena.info();
  const e = assertCode(
    () => FileEntries.readChain(b.arena, spec, "s", new CompatTable(known)),
    code,
    pattern,
  );
  assert.ok(e instanceof CorruptImageError);
  assert.equal(e.where, where, e.message);
  const after = b.arena.info();
  assert.equal(after.handedOverBlocks, before.handedOverBlocks);
  assert.equal(after.allocatedPages, before.allocatedPages);
}

Deno.test("file entries: every damage of the chain is refused as before, nothing claimed", () => {
  const b = build([127, 127, 46]);
  try {
    const [h0, h1, h2] = b.heads;
    refused(
      b,
      chain(b, 300, { maxBlocks: 2 }),
      /file chain: more than 2 blocks \(the cap\)/,
      h2,
      "ENOSPC",
    );
    refused(b, chain(b, 301), /file chain: 300 entries in 3 blocks, the owner says 301/, h0);
    refused(
      b,
      chain(b, 300, { head: h0 + 8n }),
      /file chain: block 0 is not page-aligned/,
      h0 + 8n,
    );
    refused(b, chain(b, 300, { head: 4096n }), /file chain: block 0 is outside the arena/, 4096n);
    const dv = b.arena.dataView;
    dv.setBigUint64(Number(h2 - PHYS_BASE), h1, true);
    refused(b, chain(b, 300), /file chain: block 3 links back to block 1/, h1);
    dv.setBigUint64(Number(h2 - PHYS_BASE), 0n, true);
    dv.setBigUint64(Number(h1 - PHYS_BASE) + 8, 128n, true);
    refused(b, chain(b, 300), /file chain: block 1 has count 128, want 1\.\.127/, h1 + 8n);
    dv.setBigUint64(Number(h1 - PHYS_BASE) + 8, 1n << 40n, true);
    refused(b, chain(b, 300), /block 1 has count 1099511627776, want/, h1 + 8n);
    dv.setBigUint64(Number(h1 - PHYS_BASE) + 8, 127n, true);
    b.arena.restore(h2);
    refused(b, chain(b, 300), /file chain: block was not handed over \(ENOENT\)/, h2);
  } finally {
    b.cleanup();
  }
});

Deno.test("file entries: every damaged entry is refused as before, naming it, nothing claimed", () => {
  const b = build([127, 127, 46]);
  try {
    const rec = b.heads[1] + 16n + 5n * 64n; // file 132
    const off = Number(rec - PHYS_BASE);
    const mem = b.arena.memory;
    const put = (bytes: number[]) => {
      mem.fill(0, off, off + 48);
      mem.set(bytes, off);
    };
    put([...enc.encode("memfd-v9")]);
    refused(b, chain(b, 300), /session "s" file 132: unknown compatible "memfd-v9"/, rec);
    put([]);
    refused(b, chain(b, 300), /session "s" file 132: compatible has no NUL within 48 bytes/, rec);
    put(Array(48).fill(0x61));
    refused(
      b,
      chain(b, 300),
      /file 132: compatible has no NUL within 48 bytes/,
      rec,
      "EBADMSG",
      "any",
    );
    put([0xff, 0xfe]);
    refused(b, chain(b, 300), /session "s" file 132: compatible is not UTF-8/, rec);
    put([...enc.encode("memfd-v2")]);
    b.arena.dataView.setBigUint64(off + FILE_SER.token, 21n, true); // file 7's token
    refused(b, chain(b, 300), /session "s" file 132: duplicate token 21/, rec + 56n);
  } finally {
    b.cleanup();
  }
});

Deno.test("file entries: a v3 array is read in place and never claimed", () => {
  const b = build([100]);
  try {
    const pa = b.heads[0] + 16n;
    const e = FileEntries.readArray(b.arena, pa, 100, "v3", new CompatTable(KNOWN));
    assert.deepEqual(e.runs, [{ pa, count: 100 }]);
    assert.equal(e.find(297, 0), 99);
    assert.equal(FileEntries.readArray(b.arena, 0n, 0, "v3", new CompatTable(KNOWN)).count, 0);
    e.release();
    assert.equal(b.arena.info().handedOverBlocks, 1);
  } finally {
    b.cleanup();
  }
});

Deno.test("records: parameters that disagree are EINVAL from the native library, not damage", () => {
  using a = Arena.create({ size: 1 << 20 });
  const spec = {
    head: 0n,
    expected: 0,
    maxBlocks: 1,
    blockSize: 100,
    recordSize: 64,
    tag: { offset: 0, size: 48 },
    keyOffset: 56,
    claim: false,
    array: false,
  };
  const tags = { bytes: new Uint8Array(48), count: 0, open: true };
  const out = { ids: new Uint16Array(0), index: new Int32Array(64) };
  const e = assertCode(
    () => readRecords(a, spec, tags, out, () => new Error("no")),
    "EINVAL",
    /blocks of 100 bytes/,
  );
  assert.ok(e instanceof KhoError);
  assertCode(
    () =>
      readRecords(
        a,
        { ...spec, blockSize: 8192 },
        tags,
        { ...out, index: new Int32Array(60) },
        () => new Error("no"),
      ),
    "EINVAL",
    /index of 15 slots/,
  );
  a.close();
  assertCode(() => readRecords(a, spec, tags, out, () => new Error("no")), "EBADF");
});
