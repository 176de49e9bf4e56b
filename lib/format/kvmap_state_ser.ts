/**
 * `kvmap_state_ser`: a kvmap-v1 map's state copy (96 bytes, two in the
 * header page: see `kvmap_ser.ts`), written and read here: the counters,
 * where the index, head and compaction cursor are, the pending stores of
 * the last commit, and the checksum that seals a copy. Also the index's
 * size rule, which the state's checks use.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { PAGE_SIZE } from "../kho/arena.ts";
import {
  RECORD,
  REF,
  refSegOf,
  SEGMENT,
  SLOT,
  writeDeletedSlot,
  writeSlot,
} from "./kvmap_log_ser.ts";

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

/** Whether the state copy at word `at` is sealed as state `seq` (its number and checksum match). */
export function stateSealed(words: Int32Array, at: number, seq: number): boolean {
  return words[at + STATE.seq] >>> 0 === seq &&
    words[at + STATE.check] === stateChecksum(words, at);
}

/** Writes `s` as state `seq` into the copy at word `at`, sealed with its checksum. */
export function writeState(words: Int32Array, at: number, seq: number, s: KvState): void {
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
}

/** The state copy at word `st`. */
export function readState(w: Int32Array, st: number): KvState {
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

/**
 * Checks a decoded state against its directory and an arena of `pages`
 * pages; throws a {@link CorruptImageError} at `at` naming the field.
 */
export function checkState(s: KvState, dir: (DirEntry | null)[], pages: number, at: bigint): void {
  const problem = stateProblem(s, dir, pages);
  if (problem !== 0) throw stateError(s, dir, problem, at);
}
