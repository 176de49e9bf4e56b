/**
 * The records side of a kvmap-v1 map (the whole layout is drawn in
 * `kvmap_ser.ts`, which has the header page): log segment headers,
 * record headers and index slots, their constants and limits, written
 * and read here only.
 *
 * ```
 * segment: { u32 magic "KVSG"; u32 seg; u32 seq; u32 end; u32 dead; } then records at 32..
 * record:  { u32 hash; u32 key_len | key_flags << 16; u32 value_len; u32 check; } key, value, pad
 * slot:    { u32 hash; u32 ref_lo; u32 ref_hi | key_len << 8 | key_flags << 24;
 *            u32 value_len; u32 check; u8 key[12]; }
 * ```
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho/arena.ts";

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

/** The segment a 40-bit ref names. */
export function refSegOf(ref: number): number {
  return Math.floor(ref / REF.segShift);
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
  // The key's first bytes, word by word (record keys start word-aligned), zero past the key.
  const key = rec + RECORD.header / 4;
  for (let j = 0; j < SLOT.keyBytes / 4; j++) {
    const left = keyLen - j * 4;
    const mask = left >= 4 ? -1 : left <= 0 ? 0 : (1 << (left * 8)) - 1;
    words[w + SLOT.key + j] = words[key + j] & mask;
  }
}

/** Marks slot word `w` deleted. */
export function writeDeletedSlot(words: Int32Array, w: number): void {
  words.fill(0, w, w + SLOT.words);
  words[w + SLOT.refLo] = REF.deleted;
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
 * bytes at `pa`): its magic and number, the end of a `sealed` one, a dead
 * count that fits. The message of a failure is built apart (see
 * `readKvHeader`).
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
  const end = words[w + SEGMENT.end / 4] >>> 0;
  const dead = words[w + SEGMENT.dead / 4] >>> 0;
  const bad = words[w + SEGMENT.magic / 4] !== SEGMENT_MAGIC || words[w + SEGMENT.seg / 4] !== seg
    ? SEGMENT.magic
    : sealed && (end < SEGMENT.header || end > bytes || end % RECORD.align !== 0)
    ? SEGMENT.end
    : dead > bytes - SEGMENT.header
    ? SEGMENT.dead
    : -1;
  if (bad >= 0) throw segmentError(seg, bad, end, dead, bytes, pa);
  return { seq: words[w + SEGMENT.seq / 4] >>> 0, end, dead };
}

function segmentError(
  seg: number,
  field: number,
  end: number,
  dead: number,
  bytes: number,
  pa: bigint,
): CorruptImageError {
  const what = field === SEGMENT.magic
    ? "bad magic or number"
    : field === SEGMENT.end
    ? `end ${end} in ${bytes} bytes`
    : `${dead} dead bytes in ${bytes} bytes`;
  return new CorruptImageError(`kvmap segment ${seg}: ${what}`, pa + BigInt(field));
}

/**
 * A record header as read. {@link RecordHeader.read} fills it and says
 * whether it is well formed; one object is reused for every read.
 */
export class RecordHeader {
  /** The key's hash. */
  hash = 0;
  /** Key length in bytes. */
  keyLen = 0;
  /** Key flags ({@link KEY_FLAGS}). */
  keyFlags = 0;
  /** Value length in bytes. */
  valueLen = 0;
  /** Bytes the record takes, padding included. */
  size = 0;

  /**
   * Reads the header at word `w`: false when its check word is wrong or
   * its value is longer than {@link MAX_VALUE_BYTES} (the key's length is
   * 16 bits), so that `size` is at least a header and never wraps.
   */
  read(words: Int32Array, w: number): boolean {
    const hash = words[w + RECORD.hash / 4];
    const keyInfo = words[w + RECORD.keyInfo / 4];
    const valueLen = words[w + RECORD.valueLen / 4] >>> 0;
    if (words[w + RECORD.check / 4] !== recordCheck(hash, keyInfo, valueLen)) return false;
    if (valueLen > MAX_VALUE_BYTES) return false;
    this.hash = hash;
    this.keyLen = keyInfo & MAX_KEY_BYTES;
    this.keyFlags = keyInfo >>> 16;
    this.valueLen = valueLen;
    this.size = recordBytes(this.keyLen, valueLen);
    return true;
  }
}

/** Writes a record header at word `w`. */
export function writeRecordHeader(
  words: Int32Array,
  w: number,
  hash: number,
  keyInfo: number,
  valueLen: number,
): void {
  words[w + RECORD.hash / 4] = hash;
  words[w + RECORD.keyInfo / 4] = keyInfo;
  words[w + RECORD.valueLen / 4] = valueLen;
  words[w + RECORD.check / 4] = recordCheck(hash, keyInfo, valueLen);
}
