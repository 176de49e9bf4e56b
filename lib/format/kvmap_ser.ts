/**
 * `kvmap_ser`: the on-arena layout of a kvmap-v1 map (a hash map whose
 * keys, values and index all live in arena pages), written and read here
 * only. Every number is little-endian; words are u32.
 *
 * ```
 * header page (4096 bytes, at luo_file_ser.data)
 *   0    char magic[8]     "LUOKVMAP"
 *   8    u32  version      1
 *   12   u32  flags        bit 0: values are structured clones (node:v8)
 *   16   u32  active       seq of the committed state copy: THE commit word
 *   64   state copy 0      96 bytes (24 words, below)
 *   160  state copy 1
 *   256  directory half 0  240 x { u32 pfn; u32 order; } (pfn 0: no segment)
 *   2176 directory half 1
 * state copy (the copy whose seq equals `active` is the map's state)
 *   seq count index_pfn index_log2 index_used dir_half head_seg head_off
 *   live_lo live_hi dead_lo dead_hi victim_seg victim_off
 *   pend_slot pend_ref_lo pend_ref_hi pend_dead_seg pend_dead next_seg_seq
 *   reserved x3 check
 * index block: 2^index_log2 slots of 32 bytes, a copy of the record's
 *   header with where it is and its first key bytes:
 *   { u32 hash; u32 ref_lo; u32 info; u32 value_len; u32 check; u8 key[12]; }
 *   info = ref_hi | key_len << 8 | key_flags << 24
 *   ref_lo 0: empty, 1: deleted; else ref = seg * 2^28 + offset / 8
 * segment (a block of 4096 << order bytes; directory entry `seg`)
 *   0 u32 magic "KVSG"  4 u32 seg  8 u32 seq  12 u32 end (once sealed)  16 u32 dead
 *   32.. records, 8-byte aligned
 * record: { u32 hash; u32 key_len | key_flags << 16; u32 value_len; u32 check; }
 *   key bytes, value bytes, zero padding to 8
 * ```
 *
 * A mutation writes what is new where nothing points yet (free log space,
 * a new block), then the next state into the inactive copy, then `active`
 * (one aligned store: the commit), then the slot and dead-counter stores
 * the state names as pending. A reader applies the pending stores of the
 * committed state again (they are absolute values), so a process killed
 * at any point leaves the map as it was before or after the mutation.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho/arena.ts";

/** Compatible string of the kvmap-v1 format. */
export const KVMAP_V1 = "kvmap-v1";

/** Header page fields (byte offsets). */
export const KVMAP_HEADER = {
  bytes: PAGE_SIZE,
  magic: 0,
  magicLen: 8,
  version: 8,
  flags: 12,
  active: 16,
  states: 64,
  dir: 256,
} as const;

/** The magic at offset 0 of the header page. */
export const KVMAP_MAGIC = "LUOKVMAP";
/** The layout version this build writes and reads. */
export const KVMAP_VERSION = 1;
/** Header flags. */
export const KVMAP_FLAGS = { clonedValues: 1 } as const;

/** State copy fields (word indexes; 24 words = 96 bytes per copy). */
export const STATE = {
  words: 24,
  bytes: 96,
  seq: 0,
  count: 1,
  indexPfn: 2,
  indexLog2: 3,
  indexUsed: 4,
  dirHalf: 5,
  headSeg: 6,
  headOff: 7,
  liveLo: 8,
  liveHi: 9,
  deadLo: 10,
  deadHi: 11,
  victimSeg: 12,
  victimOff: 13,
  pendSlot: 14,
  pendRefLo: 15,
  pendRefHi: 16,
  pendDeadSeg: 17,
  pendDead: 18,
  nextSegSeq: 19,
  check: 23,
} as const;

/** Marks an absent segment or slot in a state word. */
export const NONE = 0xffffffff;

/** Directory: two halves of `entries` entries `{ u32 pfn; u32 order; }`. */
export const DIR = { entries: 240, entryBytes: 8, pfn: 0, order: 4 } as const;

/** Index slot fields (word indexes; 8 words = 32 bytes). */
export const SLOT = {
  words: 8,
  bytes: 32,
  hash: 0,
  refLo: 1,
  info: 2,
  valueLen: 3,
  check: 4,
  key: 5,
  keyBytes: 12,
} as const;
/** Slot refs with a meaning of their own, and how a ref is made. */
export const REF = { empty: 0, deleted: 1, segShift: 2 ** 28, unit: 8 } as const;
/** Index sizes: 2^7 slots (one page) .. 2^27 slots. */
export const INDEX_LOG2 = { min: 7, max: 27 } as const;

/** Segment header fields (byte offsets). */
export const SEGMENT = {
  header: 32,
  magic: 0,
  seg: 4,
  seq: 8,
  end: 12,
  dead: 16,
  maxOrder: 19,
} as const;
/** "KVSG", little-endian. */
export const SEGMENT_MAGIC = 0x4753564b;
/** Largest segment: 2 GiB (offsets fit 31 bits). */
export const MAX_SEGMENT_BYTES = PAGE_SIZE * 2 ** SEGMENT.maxOrder;

/** Record header fields (byte offsets). */
export const RECORD = {
  header: 16,
  hash: 0,
  keyInfo: 4,
  valueLen: 8,
  check: 12,
  align: 8,
} as const;
/** Key flags (bits 16.. of key_info). */
export const KEY_FLAGS = { string: 1 } as const;
/** Largest key in bytes. */
export const MAX_KEY_BYTES = 0xffff;
/** Largest value in bytes (1 GiB). */
export const MAX_VALUE_BYTES = 1 << 30;

/** The mutable state of a map (the committed state copy, decoded). */
export interface KvState {
  /** Live keys. */
  count: number;
  /** Page number (arena offset / 4096) of the index block. */
  indexPfn: number;
  /** log2 of the index slots. */
  indexLog2: number;
  /** Slots in use: live keys and deleted markers. */
  indexUsed: number;
  /** Current directory half (0 or 1). */
  dirHalf: number;
  /** Directory entry of the segment records are appended to. */
  headSeg: number;
  /** Bytes used in the head segment. */
  headOff: number;
  /** Bytes of the records of live keys. */
  live: number;
  /** Bytes of records overwritten or deleted, not reclaimed yet. */
  dead: number;
  /** Segment being compacted ({@link NONE}: none). */
  victimSeg: number;
  /** Next record offset to look at in it. */
  victimOff: number;
  /** Slot of the pending slot store ({@link NONE}: none). */
  pendSlot: number;
  /** The ref it gets (the slot is filled from that record; {@link REF}.deleted: a deleted mark). */
  pendRef: number;
  /** Segment whose dead counter has a pending store ({@link NONE}: none). */
  pendDeadSeg: number;
  /** Its new dead counter. */
  pendDead: number;
  /** Sequence number of the next segment. */
  nextSegSeq: number;
}

/** A directory entry: segment `seg` is the block at page `pfn` of 2^order pages. */
export interface DirEntry {
  /** Page number of the block. */
  pfn: number;
  /** log2 of its pages. */
  order: number;
}

const U32 = 2 ** 32;

/** 32-bit finalizer (murmur3 fmix32), as an int32. */
export function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Check word of a record header: cheap enough for every read, and any
 * change of one field (or of the check) shows.
 */
export function recordCheck(hash: number, keyInfo: number, valueLen: number): number {
  return hash ^ Math.imul(keyInfo ^ 0x4b564d31, 0x9e3779b1) ^ Math.imul(valueLen, 0x85ebca6b);
}

/** Check word of an index slot (any change of one field shows). */
export function slotCheck(hash: number, refLo: number, info: number, valueLen: number): number {
  return hash ^ Math.imul(refLo ^ 0x736c6f74, 0x9e3779b1) ^ Math.imul(info, 0x85ebca6b) ^
    Math.imul(valueLen ^ 0x27d4eb2d, 0xc2b2ae35);
}

/**
 * Fills slot word `w` from the record at word `rec`, which ref
 * `refLo`/`refHi` names: hash, info, value length, check, first key bytes.
 */
export function writeSlot(
  words: Int32Array,
  mem: Uint8Array,
  w: number,
  rec: number,
  refLo: number,
  refHi: number,
): void {
  const hash = words[rec + RECORD.hash / 4];
  const keyInfo = words[rec + RECORD.keyInfo / 4];
  const valueLen = words[rec + RECORD.valueLen / 4];
  const keyLen = keyInfo & 0xffff;
  const info = refHi | (keyLen << 8) | ((keyInfo >>> 16) << 24);
  words[w + SLOT.hash] = hash;
  words[w + SLOT.refLo] = refLo;
  words[w + SLOT.info] = info;
  words[w + SLOT.valueLen] = valueLen;
  words[w + SLOT.check] = slotCheck(hash, refLo, info, valueLen);
  const key = (w + SLOT.key) * 4;
  const n = Math.min(keyLen, SLOT.keyBytes);
  mem.copyWithin(key, (rec * 4) + RECORD.header, (rec * 4) + RECORD.header + n);
  mem.fill(0, key + n, key + SLOT.keyBytes);
}

/** Marks slot word `w` deleted. */
export function writeDeletedSlot(words: Int32Array, w: number): void {
  words.fill(0, w, w + SLOT.words);
  words[w + SLOT.refLo] = REF.deleted;
}

/** Bytes a record of `keyLen` + `valueLen` takes, padding included. */
export function recordBytes(keyLen: number, valueLen: number): number {
  return (RECORD.header + keyLen + valueLen + RECORD.align - 1) & ~(RECORD.align - 1);
}

/** Word index (in the arena's words) of a physical address. */
export function wordOf(pa: bigint): number {
  return Number(pa - PHYS_BASE) / 4;
}

/** Physical address of page `pfn`. */
export function paOfPfn(pfn: number): bigint {
  return PHYS_BASE + BigInt(pfn) * BigInt(PAGE_SIZE);
}

/** Page number of a page-aligned physical address. */
export function pfnOf(pa: bigint): number {
  return Number((pa - PHYS_BASE) / BigInt(PAGE_SIZE));
}

function stateChecksum(words: Int32Array, at: number): number {
  let h = 0x6b766d31;
  for (let i = 0; i < STATE.check; i++) h = mix32(h ^ words[at + i]);
  return h;
}

/** Word index of state copy `seq & 1` of the header at word `hdr`. */
function stateAt(hdr: number, seq: number): number {
  return hdr + (KVMAP_HEADER.states + (seq & 1) * STATE.bytes) / 4;
}

/** Word index of directory entry `seg` of `half`. */
export function dirEntryAt(hdr: number, half: number, seg: number): number {
  return hdr + (KVMAP_HEADER.dir + (half * DIR.entries + seg) * DIR.entryBytes) / 4;
}

/** Writes a fresh header page at word `hdr` (zeroed by the caller): magic, version, flags. */
export function writeKvHeader(words: Int32Array, bytes: Uint8Array, hdr: number, flags: number) {
  bytes.set(new TextEncoder().encode(KVMAP_MAGIC), hdr * 4 + KVMAP_HEADER.magic);
  words[hdr + KVMAP_HEADER.version / 4] = KVMAP_VERSION;
  words[hdr + KVMAP_HEADER.flags / 4] = flags;
}

/**
 * Commits `s` as state `seq`: writes it into the copy `seq & 1` (the one
 * not committed), then `active` (the commit). The caller applies the
 * pending stores next ({@link applyPendingSlot}).
 */
export function commitKvState(words: Int32Array, hdr: number, seq: number, s: KvState): void {
  const at = stateAt(hdr, seq);
  words[at + STATE.seq] = seq;
  words[at + STATE.count] = s.count;
  words[at + STATE.indexPfn] = s.indexPfn;
  words[at + STATE.indexLog2] = s.indexLog2;
  words[at + STATE.indexUsed] = s.indexUsed;
  words[at + STATE.dirHalf] = s.dirHalf;
  words[at + STATE.headSeg] = s.headSeg;
  words[at + STATE.headOff] = s.headOff;
  words[at + STATE.liveLo] = s.live;
  words[at + STATE.liveHi] = s.live / U32;
  words[at + STATE.deadLo] = s.dead;
  words[at + STATE.deadHi] = s.dead / U32;
  words[at + STATE.victimSeg] = s.victimSeg;
  words[at + STATE.victimOff] = s.victimOff;
  words[at + STATE.pendSlot] = s.pendSlot;
  words[at + STATE.pendRefLo] = s.pendRef;
  words[at + STATE.pendRefHi] = s.pendRef / U32;
  words[at + STATE.pendDeadSeg] = s.pendDeadSeg;
  words[at + STATE.pendDead] = s.pendDead;
  words[at + STATE.nextSegSeq] = s.nextSegSeq;
  words[at + STATE.check] = stateChecksum(words, at);
  words[hdr + KVMAP_HEADER.active / 4] = seq; // the commit
}

/**
 * Applies the pending slot store of a committed state (again, after a
 * crash: it is idempotent): the slot in the index at word `index` gets
 * the record at word `rec` (or a deleted mark).
 */
export function applyPendingSlot(
  words: Int32Array,
  mem: Uint8Array,
  s: KvState,
  index: number,
  rec: number,
): void {
  if (s.pendSlot === NONE) return;
  const w = index + s.pendSlot * SLOT.words;
  if (s.pendRef === REF.deleted) writeDeletedSlot(words, w);
  else writeSlot(words, mem, w, rec, s.pendRef | 0, Math.floor(s.pendRef / U32));
}

/** What the header page of a handed-over map says, validated on its own. */
export interface KvHeader {
  /** Header flags. */
  flags: number;
  /** Sequence number of the committed state. */
  seq: number;
  /** The committed state. */
  state: KvState;
  /** Directory entries of the current half (null: no segment). */
  dir: (DirEntry | null)[];
}

/**
 * Reads and validates the header page at `pa`: magic, version, known
 * flags, the committed state copy (its checksum, every field in range for
 * an arena of `arena.size` bytes) and the current directory half (page
 * numbers inside the arena and aligned to their order). Throws a
 * {@link CorruptImageError} naming the field.
 */
export function readKvHeader(arena: Arena, pa: bigint): KvHeader {
  arena.offsetOf(pa, KVMAP_HEADER.bytes);
  const words = arena.words;
  const hdr = wordOf(pa);
  const at = (off: number) => pa + BigInt(off);
  const magic = new TextDecoder().decode(
    arena.bytes(pa, KVMAP_HEADER.magicLen),
  );
  if (magic !== KVMAP_MAGIC) {
    throw new CorruptImageError(`kvmap header: magic ${JSON.stringify(magic)}`, pa);
  }
  const version = words[hdr + KVMAP_HEADER.version / 4];
  if (version !== KVMAP_VERSION) {
    throw new CorruptImageError(
      `kvmap header: version ${version >>> 0}, this build reads ${KVMAP_VERSION}`,
      at(KVMAP_HEADER.version),
      "EPROTO",
    );
  }
  const flags = words[hdr + KVMAP_HEADER.flags / 4];
  if ((flags & ~KVMAP_FLAGS.clonedValues) !== 0) {
    throw new CorruptImageError(
      `kvmap header: unknown flags 0x${(flags >>> 0).toString(16)}`,
      at(12),
    );
  }
  const seq = words[hdr + KVMAP_HEADER.active / 4] >>> 0;
  const st = stateAt(hdr, seq);
  const stPa = at(KVMAP_HEADER.states + (seq & 1) * STATE.bytes);
  if (words[st + STATE.seq] >>> 0 !== seq || words[st + STATE.check] !== stateChecksum(words, st)) {
    throw new CorruptImageError(`kvmap state ${seq}: sequence or checksum does not match`, stPa);
  }
  const state = decodeState(words, st);
  const dir = readDir(words, hdr, state.dirHalf, arena.size / PAGE_SIZE, pa);
  checkState(state, dir, arena.size / PAGE_SIZE, stPa);
  return { flags, seq, state, dir };
}

function decodeState(words: Int32Array, st: number): KvState {
  const u = (i: number) => words[st + i] >>> 0;
  return {
    count: u(STATE.count),
    indexPfn: u(STATE.indexPfn),
    indexLog2: u(STATE.indexLog2),
    indexUsed: u(STATE.indexUsed),
    dirHalf: u(STATE.dirHalf),
    headSeg: u(STATE.headSeg),
    headOff: u(STATE.headOff),
    live: u(STATE.liveLo) + u(STATE.liveHi) * U32,
    dead: u(STATE.deadLo) + u(STATE.deadHi) * U32,
    victimSeg: u(STATE.victimSeg),
    victimOff: u(STATE.victimOff),
    pendSlot: u(STATE.pendSlot),
    pendRef: u(STATE.pendRefLo) + u(STATE.pendRefHi) * U32,
    pendDeadSeg: u(STATE.pendDeadSeg),
    pendDead: u(STATE.pendDead),
    nextSegSeq: u(STATE.nextSegSeq),
  };
}

function readDir(
  words: Int32Array,
  hdr: number,
  half: number,
  pages: number,
  pa: bigint,
): (DirEntry | null)[] {
  if (half > 1) {
    throw new CorruptImageError(
      `kvmap state: directory half ${half}`,
      pa + BigInt(KVMAP_HEADER.states),
    );
  }
  const dir: (DirEntry | null)[] = [];
  for (let seg = 0; seg < DIR.entries; seg++) {
    const w = dirEntryAt(hdr, half, seg);
    const pfn = words[w + DIR.pfn / 4] >>> 0;
    const order = words[w + DIR.order / 4] >>> 0;
    if (pfn === 0) {
      dir.push(null);
      continue;
    }
    if (order > SEGMENT.maxOrder || pfn % 2 ** order !== 0 || pfn + 2 ** order > pages) {
      throw new CorruptImageError(
        `kvmap directory entry ${seg}: page ${pfn} of order ${order} is not a block of the arena`,
        pa + BigInt(w * 4 - hdr * 4),
      );
    }
    dir.push({ pfn, order });
  }
  return dir;
}

/** Pages of an index of 2^log2 slots. */
export function indexPages(log2: number): number {
  return Math.max(1, (2 ** log2 * SLOT.bytes) / PAGE_SIZE);
}

function checkState(s: KvState, dir: (DirEntry | null)[], pages: number, pa: bigint): void {
  const bad = (what: string) => new CorruptImageError(`kvmap state: ${what}`, pa);
  if (s.indexLog2 < INDEX_LOG2.min || s.indexLog2 > INDEX_LOG2.max) {
    throw bad(`index of 2^${s.indexLog2} slots`);
  }
  const ip = indexPages(s.indexLog2);
  if (s.indexPfn === 0 || s.indexPfn % ip !== 0 || s.indexPfn + ip > pages) {
    throw bad(`index at page ${s.indexPfn} of ${ip} pages is not a block of the arena`);
  }
  const slots = 2 ** s.indexLog2;
  if (s.count > s.indexUsed || s.indexUsed >= slots) {
    throw bad(`${s.count} keys and ${s.indexUsed} used slots in an index of ${slots}`);
  }
  const head = dir[s.headSeg];
  if (!head) throw bad(`head segment ${s.headSeg} is not in the directory`);
  const headBytes = PAGE_SIZE * 2 ** head.order;
  if (s.headOff < SEGMENT.header || s.headOff > headBytes || s.headOff % RECORD.align !== 0) {
    throw bad(`head offset ${s.headOff} in a segment of ${headBytes} bytes`);
  }
  if (s.victimSeg !== NONE && (!dir[s.victimSeg] || s.victimSeg === s.headSeg)) {
    throw bad(`segment ${s.victimSeg} under compaction is not a sealed segment`);
  }
  if (s.pendSlot !== NONE && s.pendSlot >= slots) throw bad(`pending slot ${s.pendSlot}`);
  if (s.pendSlot !== NONE && s.pendRef !== REF.deleted) {
    const seg = Math.floor(s.pendRef / REF.segShift);
    if (!dir[seg]) throw bad(`pending slot store refers to segment ${seg}`);
  }
  if (s.pendDeadSeg !== NONE && !dir[s.pendDeadSeg]) {
    throw bad(`pending dead counter of segment ${s.pendDeadSeg}`);
  }
}

/** A segment header as read back. */
export interface SegmentHeader {
  /** Its creation sequence number (compaction picks among them). */
  seq: number;
  /** Bytes used (meaningful once sealed). */
  end: number;
  /** Bytes of dead records in it. */
  dead: number;
}

/** Writes the header of a new, empty segment `seg` at word `w`. */
export function writeSegmentHeader(words: Int32Array, w: number, seg: number, seq: number) {
  words[w + SEGMENT.magic / 4] = SEGMENT_MAGIC;
  words[w + SEGMENT.seg / 4] = seg;
  words[w + SEGMENT.seq / 4] = seq;
  words[w + SEGMENT.end / 4] = 0;
  words[w + SEGMENT.dead / 4] = 0;
}

/**
 * Reads and validates the header of segment `seg` (a block of `bytes`
 * bytes at `pa`); `sealed` segments must have a valid end.
 */
export function readSegmentHeader(
  arena: Arena,
  pa: bigint,
  seg: number,
  bytes: number,
  sealed: boolean,
): SegmentHeader {
  const words = arena.words;
  const w = wordOf(pa);
  const u = (off: number) => words[w + off / 4] >>> 0;
  if (u(SEGMENT.magic) !== SEGMENT_MAGIC || u(SEGMENT.seg) !== seg) {
    throw new CorruptImageError(`kvmap segment ${seg}: bad magic or number`, pa);
  }
  const end = u(SEGMENT.end);
  const dead = u(SEGMENT.dead);
  if (sealed && (end < SEGMENT.header || end > bytes || end % RECORD.align !== 0)) {
    throw new CorruptImageError(
      `kvmap segment ${seg}: end ${end} in ${bytes} bytes`,
      pa + BigInt(SEGMENT.end),
    );
  }
  if (dead > bytes - SEGMENT.header) {
    throw new CorruptImageError(
      `kvmap segment ${seg}: ${dead} dead bytes in ${bytes} bytes`,
      pa + BigInt(SEGMENT.dead),
    );
  }
  return { seq: u(SEGMENT.seq), end, dead };
}

/** Writes a record header at word `w`. */
export function writeRecordHeader(
  words: Int32Array,
  w: number,
  hash: number,
  keyInfo: number,
  valueLen: number,
): void {
  words[w] = hash;
  words[w + 1] = keyInfo;
  words[w + 2] = valueLen;
  words[w + 3] = recordCheck(hash, keyInfo, valueLen);
}
