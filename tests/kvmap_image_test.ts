// PreservedMap across handovers in one process: generations, the redo of
// a commit's pending stores, damage to every structure (a typed error
// naming where, no page leaked), allocation failures at every point, and
// what inspect says about a map.
import assert from "node:assert/strict";
import {
  paOfPfn,
  RECORD,
  SEGMENT,
  SLOT,
  wordOf,
  writeRecordHeader,
} from "../lib/format/kvmap_log_ser.ts";
import { commitKvState, readKvHeader } from "../lib/format/kvmap_ser.ts";
import type { KvState } from "../lib/format/kvmap_state_ser.ts";
import { mapInternals } from "../lib/handlers/kvmap/map.ts";
import { LiveUpdate, LiveUpdateError, PreservedMap } from "../mod.ts";
import { inspectArena } from "../tools.ts";
import { Arena } from "../kho.ts";
import { assertCode } from "../testing/assert_code.ts";
import { apply, differs, type Model, opAt } from "../testing/kvmap_model.ts";
import { tempArena } from "../testing/temp_arena.ts";

const SIZE = 16 << 20;

/** Pages still in use once the predecessor's image is given up. */
function pagesInUse(luo: LiveUpdate): number {
  luo.discardIncoming();
  const i = luo.arena.info();
  return i.allocatedPages + i.handedOverPages + i.deferredPages;
}

/** A first generation: a map of `ops` random operations at token 1; returns its model and header. */
function firstGeneration(path: string, ops: number, seed = 5): { model: Model; header: bigint } {
  const luo = LiveUpdate.create({ path, size: SIZE });
  const map = PreservedMap.create(luo.arena);
  const model: Model = new Map();
  for (let i = 0; i < ops; i++) apply(map, model, opAt(seed, i, 2000, 200));
  luo.createSession("s").preserve(map, 1n);
  const header = map[mapInternals].headerPa;
  luo.handover();
  return { model, header };
}

Deno.test("kvmap: three generations in one process; a map never retrieved is freed at finish", () => {
  const t = tempArena();
  try {
    const { model } = firstGeneration(t.path, 8000);
    {
      using luo = LiveUpdate.open(t.path, { poison: true });
      const s = luo.retrieveSession("s");
      const map = s.retrieve(1n, PreservedMap);
      assert.equal(differs(map, model), null);
      for (let i = 8000; i < 12_000; i++) apply(map, model, opAt(5, i, 2000, 200));
      const spare = PreservedMap.create(luo.arena);
      spare.set("spare", new Uint8Array(10));
      s.finish();
      const out = luo.createSession("s");
      out.preserve(map, 1n);
      out.preserve(spare, 2n);
      assertCode(() => map.close(), "EBUSY", /preserved/);
      luo.handover();
    }
    using luo = LiveUpdate.open(t.path, { poison: true });
    const s = luo.retrieveSession("s");
    const map = s.retrieve(1n, PreservedMap);
    assert.equal(differs(map, model), null);
    s.finish(); // token 2 was never retrieved: its pages go
    map.close();
    assert.equal(pagesInUse(luo), 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("kvmap: a retrieve re-applies the pending slot and dead-counter stores of the last commit", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: SIZE });
    const first = PreservedMap.create(luo.arena);
    first.set("kept", new Uint8Array([1]));
    luo.createSession("s").preserve(first, 1n);
    luo.handover();
    // The successor changes the map in place, and is "killed" right after a commit:
    // its pending stores are undone, and the file is copied as it is.
    const next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("s");
    const map = s.retrieve(1n, PreservedMap);
    s.finish();
    const words = next.arena.words;
    const pa = map[mapInternals].headerPa;
    const slotOf = () => {
      const { state } = readKvHeader(next.arena, pa);
      return wordOf(paOfPfn(state.indexPfn)) + state.pendSlot * SLOT.words;
    };
    map.set("gone", new Uint8Array([2]));
    const w = slotOf();
    const before = words.slice(w, w + SLOT.words);
    map.delete("gone"); // pending: the slot's deleted mark, the head segment's dead counter
    assert.equal(slotOf(), w);
    const head = map[mapInternals].regions().find((r) => r.what === "kvmap segment")!.pa;
    const dead = wordOf(head) + SEGMENT.dead / 4;
    assert.equal(words[dead], 24);
    words.set(before, w);
    words[dead] = 0;
    assert.equal(map.has("gone"), true);
    const crashed = `${t.dir}/crashed.arena`;
    Deno.copyFileSync(t.path, crashed);
    next.close();
    // The restarted successor retrieves the same image and reads the map after the delete.
    using again = LiveUpdate.open(crashed);
    const back = again.retrieveSession("s").retrieve(1n, PreservedMap);
    assert.equal(back.has("gone"), false);
    assert.equal(back.size, 1);
    assert.deepEqual(back.get("kept"), new Uint8Array([1]));
    assert.equal(back.stats().deadBytes, 24);
    assert.equal(again.arena.words[dead], 24);
  } finally {
    t.cleanup();
  }
});

/** Where the structures of a handed-over map are, read from its file. */
interface MapLayout {
  seq: number;
  state: KvState;
  hdrWord: number;
  indexWord: number;
  segments: { seg: number; word: number; bytes: number; sealed: boolean }[];
  liveSlots: number[];
  pages: number;
}

function layoutOf(path: string, header: bigint): MapLayout {
  using arena = Arena.open(path, { readOnly: true });
  const { seq, state, dir } = readKvHeader(arena, header);
  const indexWord = wordOf(paOfPfn(state.indexPfn));
  const liveSlots: number[] = [];
  for (let i = 0; i < 2 ** state.indexLog2; i++) {
    const lo = arena.words[indexWord + i * SLOT.words + SLOT.refLo];
    if (lo !== 0 && lo !== 1) liveSlots.push(i);
  }
  const segments = dir.flatMap((d, seg) =>
    d
      ? [{ seg, word: d.pfn * 1024, bytes: 4096 * 2 ** d.order, sealed: seg !== state.headSeg }]
      : []
  );
  return {
    seq,
    state,
    hdrWord: wordOf(header),
    indexWord,
    segments,
    liveSlots,
    pages: arena.size / 4096,
  };
}

/** Damage: patches the file's words (given as an Int32Array over the file). */
type Damage = (w: Int32Array, l: MapLayout) => void;

/** Re-commits the map's state with `edit` applied (a damaged state with a valid checksum). */
const restate = (edit: (s: KvState) => void): Damage => (w, l) => {
  const s = { ...l.state };
  edit(s);
  commitKvState(w, l.hdrWord, l.seq + 1, s);
};

const sealed = (l: MapLayout) => l.segments.find((s) => s.sealed)!;

const DAMAGES: [string, Damage, RegExp][] = [
  ["header magic", (w, l) => (w[l.hdrWord] = 0x41414141), /magic "AAAAVMAP"/],
  [
    "version",
    (w, l) => (w[l.hdrWord + 2] = 2),
    /EPROTO: .*retrieve failed: kvmap header: version 2/,
  ],
  ["flags", (w, l) => (w[l.hdrWord + 3] = 0x80), /unknown flags 0x80/],
  ["commit word", (w, l) => (w[l.hdrWord + 4] += 5), /sequence or checksum does not match/],
  ["state bits", (w, l) => (w[l.hdrWord + 16 + ((l.seq & 1) * 24) + 1] ^= 4), /checksum/],
  ["index size", restate((s) => (s.indexLog2 = 40)), /index of 2\^40 slots/],
  [
    "index block",
    (w, l) => restate((s) => (s.indexPfn = l.pages - 2 ** (s.indexLog2 - 7)))(w, l),
    /kvmap index: block was not handed over/,
  ],
  ["key count", restate((s) => (s.count = s.indexUsed + 1)), /keys and \d+ used slots/],
  ["head offset", restate((s) => (s.headOff = 1 << 30)), /head offset 1073741824/],
  ["live bytes", restate((s) => (s.live += 8)), /but the segments hold/],
  ["victim", restate((s) => (s.victimSeg = s.headSeg)), /under compaction is not a sealed/],
  ["pending slot", restate((s) => (s.pendSlot = 1 << 30)), /pending slot 1073741824/],
  ["directory", restate((s) => (s.dirHalf = 7)), /directory half 7/],
  [
    "directory entry",
    (w, l) => (w[l.hdrWord + 64 + (l.state.dirHalf * 240 + l.state.headSeg) * 2] = l.pages + 64),
    /directory entry \d+: page \d+ of order/,
  ],
  ["segment magic", (w, l) => (w[sealed(l).word] = 0), /segment \d+: bad magic or number/],
  ["segment end", (w, l) => (w[sealed(l).word + 3] = 1 << 30), /end 1073741824 in/],
  [
    "segment dead",
    (w, l) => (w[l.segments.find((x) => x.seg !== l.state.pendDeadSeg)!.word + 4] += 8),
    /but the segments hold/,
  ],
];

/** Damages reaching a record or slot: found when the key is read. */
const READ_DAMAGES: [string, Damage, RegExp][] = [
  ["slot check", (w, l) => (w[l.indexWord + l.liveSlots[3] * SLOT.words + 3] ^= 1), /check word/],
  [
    "record header",
    (w, l) => (w[sealed(l).word + SEGMENT.header / 4 + 2] ^= 0x100),
    /damaged header|its record's lengths differ/,
  ],
  ["slot hash", (w, l) => (w[l.indexWord + l.liveSlots[5] * SLOT.words] ^= 1), /check word/],
  [
    "slot key bytes",
    (w, l) => (w[l.indexWord + l.liveSlots[7] * SLOT.words + SLOT.key] ^= 0x20),
    /slot \d+: its first key bytes differ from its record's/,
  ],
  [
    "record key bytes",
    (w, l) => (w[recordWordOf(w, l, l.liveSlots[9]) + RECORD.header / 4] ^= 0x20),
    /slot \d+: its first key bytes differ from its record's/,
  ],
];

/** Word index in the file of the record live slot `slot` names. */
function recordWordOf(w: Int32Array, l: MapLayout, slot: number): number {
  const at = l.indexWord + slot * SLOT.words;
  const lo = w[at + SLOT.refLo];
  const seg = (w[at + SLOT.info] & 0xff) * 16 + (lo >>> 28);
  return l.segments.find((s) => s.seg === seg)!.word + ((lo & 0x0fffffff) * 8) / 4;
}

function damaged(name: string, damage: Damage, pattern: RegExp, atRead: boolean): void {
  if (Deno.env.get("LUO_VERBOSE")) console.log(`damage: ${name}`);
  const t = tempArena();
  try {
    const { model, header } = firstGeneration(t.path, 8000);
    const l = layoutOf(t.path, header);
    assert.ok(l.segments.length >= 3 && l.liveSlots.length > 10, `${name}: layout`);
    const bytes = Deno.readFileSync(t.path);
    damage(new Int32Array(bytes.buffer), l);
    Deno.writeFileSync(t.path, bytes);
    using luo = LiveUpdate.open(t.path, { poison: true });
    const s = luo.retrieveSession("s");
    if (atRead) {
      const map = s.retrieve(1n, PreservedMap);
      assert.throws(() => differs(map, model), (e) => {
        assert.ok(e instanceof LiveUpdateError && e.code === "EBADMSG", `${name}: ${e}`);
        assert.match(e.message, pattern, `${name}: ${e.message}`);
        assert.match(e.message, /\(at (0x[0-9a-f]+|arena offset \d+|kvmap segment \d+)\)$/, name);
        return true;
      });
      s.finish();
      map.close();
    } else {
      const e = assertCode(
        () => s.retrieve(1n, PreservedMap),
        /version/.test(name) ? "EPROTO" : "EBADMSG",
        pattern,
      );
      assert.match(e.message, /\(at 0x[0-9a-f]+\)$/, name);
      s.finish();
    }
    assert.equal(pagesInUse(luo), 0, `${name}: pages left`);
  } finally {
    t.cleanup();
  }
}

Deno.test("kvmap: damage to the header, state, directory or segments fails the retrieve, naming where", () => {
  for (const [name, damage, pattern] of DAMAGES) damaged(name, damage, pattern, false);
});

Deno.test("kvmap: damage to a slot or a record is found when it is read", () => {
  for (const [name, damage, pattern] of READ_DAMAGES) damaged(name, damage, pattern, true);
});

Deno.test("kvmap: inspect describes a handed-over map and accounts for every block of it", () => {
  const t = tempArena();
  try {
    const { model } = firstGeneration(t.path, 3000);
    const r = inspectArena(t.path);
    const file = r.sessions![0].files[0];
    assert.equal(file.compatible, "kvmap-v1");
    assert.equal(file.fields?.keys, model.size);
    assert.equal(file.fields?.["value kind"], "bytes");
    assert.ok(Number(file.fields?.segments) >= 1);
    const whats = new Set(r.regions.map((x) => x.what?.replace(/ \(session .*/, "")));
    for (const w of ["kvmap header", "kvmap index", "kvmap segment"]) assert.ok(whats.has(w), w);
    assert.deepEqual(r.unclaimed, []);
    assert.equal(r.error, undefined);
  } finally {
    t.cleanup();
  }
});

Deno.test("kvmap: a forged record header whose value length wraps fails compaction, never loops", () => {
  const t = tempArena();
  try {
    const { header } = firstGeneration(t.path, 8000);
    const l = layoutOf(t.path, header);
    const bytes = Deno.readFileSync(t.path);
    const w = new Int32Array(bytes.buffer);
    // Two headers with valid check words: an empty record, then one whose
    // length (2^32 - 32) wraps to a negative size in 32-bit arithmetic.
    const first = sealed(l).word + SEGMENT.header / 4;
    writeRecordHeader(w, first, w[first], 0, 0);
    writeRecordHeader(w, first + RECORD.header / 4, 7, 0, 0xffffffe0 | 0);
    Deno.writeFileSync(t.path, bytes);
    using luo = LiveUpdate.open(t.path, { poison: true });
    const s = luo.retrieveSession("s");
    const map = s.retrieve(1n, PreservedMap);
    assertCode(() => map.compact(), "EBADMSG", /record at \d+:48: damaged header/);
    s.finish();
    map.close();
    assert.equal(pagesInUse(luo), 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("kvmap: damaged key bytes fail the lookup of that key; a set never adds it twice", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: SIZE });
    const map = PreservedMap.create(luo.arena);
    for (let i = 0; i < 100; i++) map.set(`key-${i}`, new Uint8Array([i]));
    luo.createSession("s").preserve(map, 1n);
    const header = map[mapInternals].headerPa;
    luo.handover();
    const l = layoutOf(t.path, header);
    const bytes = Deno.readFileSync(t.path);
    const w = new Int32Array(bytes.buffer);
    const slot = l.liveSlots[3];
    const key = new TextDecoder().decode(bytes.subarray(
      (recordWordOf(w, l, slot) * 4) + RECORD.header,
      (recordWordOf(w, l, slot) * 4) + RECORD.header + 6,
    ));
    w[l.indexWord + slot * SLOT.words + SLOT.key] ^= 0x20; // "key-" -> "Key-"
    Deno.writeFileSync(t.path, bytes);
    using next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("s");
    const back = s.retrieve(1n, PreservedMap);
    const re = /slot \d+: its first key bytes differ from its record's/;
    const full = [...Array(100).keys()].map((i) => `key-${i}`).find((k) => k.startsWith(key))!;
    assertCode(() => back.get(full), "EBADMSG", re);
    assertCode(() => back.set(full, new Uint8Array([0])), "EBADMSG", re);
    assert.equal(back.size, 100, "nothing was added");
    s.finish();
    back.close();
  } finally {
    t.cleanup();
  }
});
