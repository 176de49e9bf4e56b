/**
 * `kvmap_ser`: the on-arena layout of a kvmap-v1 map (a hash map whose
 * keys, values and index all live in arena pages). The header page (its
 * fields, state copies and directory) is written and read here;
 * segments, records and index slots in `kvmap_log_ser.ts`. Every number
 * is little-endian; words are u32.
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
import { type Arena, PAGE_SIZE } from "../kho/arena.ts";
import {
  RECORD,
  REF,
  refSegOf,
  SEGMENT,
  SLOT,
  wordOf,
  writeDeletedSlot,
  writeSlot,
} from "./kvmap_log_ser.ts";

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
/** The magic as two little-endian words. */
const MAGIC_WORDS = [0x4b4f554c, 0x50414d56] as const;
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

/** Index sizes: 2^7 slots (one page) .. 2^27 slots. */
export const INDEX_LOG2 = { min: 7, max: 27 } as const;

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

/** Checksum of a state copy's words (FNV-1a over words, then mixed): one per commit, kept cheap. */
function stateChecksum(words: Int32Array, at: number): number {
  let h = 0x6b766d31;
  for (let i = 0; i < STATE.check; i++) h = Math.imul(h ^ words[at + i], 0x01000193);
  return mix32(h);
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
export function writeKvHeader(words: Int32Array, hdr: number, flags: number): void {
  words[hdr + KVMAP_HEADER.magic / 4] = MAGIC_WORDS[0];
  words[hdr + KVMAP_HEADER.magic / 4 + 1] = MAGIC_WORDS[1];
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
  s: KvState,
  index: number,
  rec: number,
): void {
  if (s.pendSlot === NONE) return;
  const w = index + s.pendSlot * SLOT.words;
  if (s.pendRef === REF.deleted) writeDeletedSlot(words, w);
  else writeSlot(words, w, rec, s.pendRef | 0, Math.floor(s.pendRef / U32));
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
 *
 * The checks return a problem number and the message is built apart,
 * only on failure: this runs once per retrieve, in a successor whose code
 * is cold, where every line compiled counts.
 */
export function readKvHeader(arena: Arena, pa: bigint): KvHeader {
  arena.offsetOf(pa, KVMAP_HEADER.bytes);
  const words = arena.words;
  const hdr = wordOf(pa);
  const seq = words[hdr + KVMAP_HEADER.active / 4] >>> 0;
  const st = stateAt(hdr, seq);
  const bad = headerProblem(words, hdr, seq, st);
  if (bad !== 0) throw headerError(arena, pa, bad);
  const pages = arena.size / PAGE_SIZE;
  const state = decodeState(words, st);
  const dir = readDir(words, hdr, state.dirHalf, pages, pa);
  const problem = stateProblem(state, dir, pages);
  if (problem !== 0) throw stateError(state, dir, problem, pa + BigInt(st * 4 - hdr * 4));
  return { flags: words[hdr + KVMAP_HEADER.flags / 4], seq, state, dir };
}

/** The first failing check of the header fields and the state copy's seal (0: none). */
function headerProblem(words: Int32Array, hdr: number, seq: number, st: number): number {
  if (words[hdr] !== MAGIC_WORDS[0] || words[hdr + 1] !== MAGIC_WORDS[1]) return 1;
  if (words[hdr + KVMAP_HEADER.version / 4] !== KVMAP_VERSION) return 2;
  if ((words[hdr + KVMAP_HEADER.flags / 4] & ~KVMAP_FLAGS.clonedValues) !== 0) return 3;
  if (words[st + STATE.seq] >>> 0 !== seq) return 4;
  if (words[st + STATE.check] !== stateChecksum(words, st)) return 4;
  return 0;
}

function headerError(arena: Arena, pa: bigint, problem: number): CorruptImageError {
  const w = arena.words;
  const hdr = wordOf(pa);
  const seq = w[hdr + KVMAP_HEADER.active / 4] >>> 0;
  switch (problem) {
    case 1: {
      const magic = String.fromCharCode(...arena.bytes(pa, KVMAP_HEADER.magicLen));
      return new CorruptImageError(`kvmap header: magic ${JSON.stringify(magic)}`, pa);
    }
    case 2:
      return new CorruptImageError(
        `kvmap header: version ${w[hdr + 2] >>> 0}, this build reads ${KVMAP_VERSION}`,
        pa + BigInt(KVMAP_HEADER.version),
        "EPROTO",
      );
    case 3:
      return new CorruptImageError(
        `kvmap header: unknown flags 0x${(w[hdr + 3] >>> 0).toString(16)}`,
        pa + BigInt(KVMAP_HEADER.flags),
      );
    default:
      return new CorruptImageError(
        `kvmap state ${seq}: sequence or checksum does not match`,
        pa + BigInt(KVMAP_HEADER.states + (seq & 1) * STATE.bytes),
      );
  }
}

/** The state copy at word `st`. */
function decodeState(w: Int32Array, st: number): KvState {
  return {
    count: w[st + STATE.count] >>> 0,
    indexPfn: w[st + STATE.indexPfn] >>> 0,
    indexLog2: w[st + STATE.indexLog2] >>> 0,
    indexUsed: w[st + STATE.indexUsed] >>> 0,
    dirHalf: w[st + STATE.dirHalf] >>> 0,
    headSeg: w[st + STATE.headSeg] >>> 0,
    headOff: w[st + STATE.headOff] >>> 0,
    live: (w[st + STATE.liveLo] >>> 0) + (w[st + STATE.liveHi] >>> 0) * U32,
    dead: (w[st + STATE.deadLo] >>> 0) + (w[st + STATE.deadHi] >>> 0) * U32,
    victimSeg: w[st + STATE.victimSeg] >>> 0,
    victimOff: w[st + STATE.victimOff] >>> 0,
    pendSlot: w[st + STATE.pendSlot] >>> 0,
    pendRef: (w[st + STATE.pendRefLo] >>> 0) + (w[st + STATE.pendRefHi] >>> 0) * U32,
    pendDeadSeg: w[st + STATE.pendDeadSeg] >>> 0,
    pendDead: w[st + STATE.pendDead] >>> 0,
    nextSegSeq: w[st + STATE.nextSegSeq] >>> 0,
  };
}

/** Directory half `half` (a half past 1 reads as empty: the state check names it). */
function readDir(
  words: Int32Array,
  hdr: number,
  half: number,
  pages: number,
  pa: bigint,
): (DirEntry | null)[] {
  const dir: (DirEntry | null)[] = [];
  for (let seg = 0; seg < DIR.entries; seg++) {
    const w = dirEntryAt(hdr, half, seg);
    const pfn = half > 1 ? 0 : words[w + DIR.pfn / 4] >>> 0;
    const order = words[w + DIR.order / 4] >>> 0;
    if (pfn === 0) dir.push(null);
    else if (order <= SEGMENT.maxOrder && pfn % 2 ** order === 0 && pfn + 2 ** order <= pages) {
      dir.push({ pfn, order });
    } else throw dirError(seg, pfn, order, pa + BigInt(w * 4 - hdr * 4));
  }
  return dir;
}

function dirError(seg: number, pfn: number, order: number, at: bigint): CorruptImageError {
  return new CorruptImageError(
    `kvmap directory entry ${seg}: page ${pfn} of order ${order} is not a block of the arena`,
    at,
  );
}

/** Pages of an index of 2^log2 slots. */
export function indexPages(log2: number): number {
  return Math.max(1, (2 ** log2 * SLOT.bytes) / PAGE_SIZE);
}

/** The first failing check of a decoded state against its directory (0: none). */
function stateProblem(s: KvState, dir: (DirEntry | null)[], pages: number): number {
  if (s.dirHalf > 1) return 1;
  if (s.indexLog2 < INDEX_LOG2.min || s.indexLog2 > INDEX_LOG2.max) return 2;
  const ip = indexPages(s.indexLog2);
  if (s.indexPfn === 0 || s.indexPfn % ip !== 0 || s.indexPfn + ip > pages) return 3;
  const slots = 2 ** s.indexLog2;
  if (s.count > s.indexUsed || s.indexUsed >= slots) return 4;
  const head = dir[s.headSeg];
  if (!head) return 5;
  const headBytes = PAGE_SIZE * 2 ** head.order;
  if (s.headOff < SEGMENT.header || s.headOff > headBytes || s.headOff % RECORD.align) return 6;
  if (s.victimSeg !== NONE && (!dir[s.victimSeg] || s.victimSeg === s.headSeg)) return 7;
  if (s.pendSlot !== NONE && s.pendSlot >= slots) return 8;
  if (s.pendSlot !== NONE && s.pendRef !== REF.deleted && !dir[refSegOf(s.pendRef)]) return 9;
  if (s.pendDeadSeg !== NONE && !dir[s.pendDeadSeg]) return 10;
  return 0;
}

function stateError(s: KvState, dir: (DirEntry | null)[], problem: number, at: bigint) {
  const head = dir[s.headSeg];
  const what = [
    "",
    `directory half ${s.dirHalf}`,
    `index of 2^${s.indexLog2} slots`,
    `index at page ${s.indexPfn} of ${indexPages(s.indexLog2)} pages is not a block of the arena`,
    `${s.count} keys and ${s.indexUsed} used slots in an index of ${2 ** s.indexLog2}`,
    `head segment ${s.headSeg} is not in the directory`,
    `head offset ${s.headOff} in a segment of ${head ? PAGE_SIZE * 2 ** head.order : 0} bytes`,
    `segment ${s.victimSeg} under compaction is not a sealed segment`,
    `pending slot ${s.pendSlot}`,
    `pending slot store refers to segment ${refSegOf(s.pendRef)}`,
    `pending dead counter of segment ${s.pendDeadSeg}`,
  ][problem];
  return new CorruptImageError(`kvmap state: ${what}`, at);
}
