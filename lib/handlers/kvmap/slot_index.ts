/**
 * The hash index of a preserved map: an open-addressing table of 2^log2
 * 32-byte slots in one block of pages, probed linearly from
 * `hash & mask`. A slot is a checked copy of its record's header (hash,
 * key length, value length), where the record is, and the key's first 12
 * bytes: a lookup of a key of up to 12 bytes reads the slot and nothing
 * else, and a rehash reads nothing but the index.
 *
 * @module
 */

import { CorruptImageError } from "../../errors.ts";
import { paOfPfn, RECORD, REF, SLOT, slotCheck, wordOf } from "../../format/kvmap_log_ser.ts";
import { indexPages, type KvState } from "../../format/kvmap_state_ser.ts";
import { type Arena, PAGE_SIZE, type Region } from "../../kho/arena.ts";
import { hashBytes, type KeyCodec } from "./keys.ts";
import type { Segments } from "./segments.ts";

/** Largest share of slots in use (keys and deleted marks) before the index grows: 4/5. */
const MAX_LOAD = 0.8;

/** The segment a slot's ref names. */
export function refSeg(refLo: number, info: number): number {
  return (info & 0xff) * 16 + (refLo >>> 28);
}

/** The offset in its segment a slot's ref names. */
export function refOff(refLo: number): number {
  return (refLo & 0x0fffffff) * REF.unit;
}

/** The index block of a map. */
export class SlotIndex {
  /** Physical address of the block. */
  readonly pa: bigint;
  /** log2 of the slots. */
  readonly log2: number;
  /** Slots - 1. */
  readonly mask: number;
  /** Word index of the block in the arena's words. */
  readonly word: number;
  /** After a successful {@link find}: byte offset in the arena of the record. */
  found = 0;
  /** ... and its value's length. */
  valueLen = 0;

  /** The index of 2^log2 slots at page `pfn`. */
  constructor(pfn: number, log2: number) {
    this.pa = paOfPfn(pfn);
    this.log2 = log2;
    this.mask = 2 ** log2 - 1;
    this.word = wordOf(this.pa);
  }

  /** Pages of the block. */
  get pages(): number {
    return indexPages(this.log2);
  }

  /** Whether `used + extra` slots in use would pass the load limit. */
  full(used: number, extra = 1): boolean {
    return used + extra > MAX_LOAD * (this.mask + 1);
  }

  /** The smallest log2 (at least `min`) whose index holds `keys` keys at half load or less. */
  static log2For(keys: number, min: number): number {
    return Math.max(min, Math.ceil(Math.log2(Math.max(1, keys * 2))));
  }

  /**
   * The slot of the key `keys` holds (>= 0; its record in {@link found},
   * its value's length in {@link valueLen}), else `~slot` of the first
   * deleted or empty slot on its probe path.
   */
  find(keys: KeyCodec, words: Int32Array, mem: Uint8Array, segs: Segments, st: KvState): number {
    const h = keys.hash;
    const n = keys.length;
    const inline = n < SLOT.keyBytes ? n : SLOT.keyBytes;
    const mask = this.mask;
    const base = this.word;
    let free = -1;
    let i = h & mask;
    for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
      const w = base + i * SLOT.words;
      const lo = words[w + SLOT.refLo];
      if (lo === REF.empty) return ~(free >= 0 ? free : i);
      if (lo === REF.deleted) {
        if (free < 0) free = i;
        continue;
      }
      const info = words[w + SLOT.info];
      if (words[w] !== h || ((info >>> 8) & 0xffff) !== n) continue;
      const valueLen = words[w + SLOT.valueLen];
      if (words[w + SLOT.check] !== slotCheck(h, lo, info, valueLen)) {
        throw this.corrupt(i, "check word does not match");
      }
      const seg = refSeg(lo, info);
      const off = refOff(lo);
      if (!keys.equals(mem, (w + SLOT.key) * 4, 0, inline)) {
        // Another key of the same hash and length, or damaged key bytes.
        this.checkKey(i, segs.locate(seg, off, st, words, i), n, words, mem);
        continue;
      }
      if (n > inline) {
        const at = segs.locate(seg, off, st, words, i);
        if (segs.record.hash !== h) throw this.corrupt(i, "its record has another hash");
        if (!keys.equals(mem, at + RECORD.header + inline, inline, n)) {
          this.checkKey(i, at, n, words, mem);
          continue;
        }
      }
      this.found = segs.span(seg, off, n, valueLen >>> 0, st, i);
      this.valueLen = valueLen >>> 0;
      return i;
    }
    if (free >= 0) return ~free;
    throw this.corrupt(0, "no slot is free");
  }

  /** The slot on `hash`'s probe path that names segment `seg`, offset `off`; or -1. */
  findRef(hash: number, seg: number, off: number, words: Int32Array): number {
    const mask = this.mask;
    let i = hash & mask;
    for (let probes = 0; probes <= mask; probes++, i = (i + 1) & mask) {
      const w = this.word + i * SLOT.words;
      const lo = words[w + SLOT.refLo];
      if (lo === REF.empty) return -1;
      if (
        lo !== REF.deleted && words[w] === hash && refOff(lo) === off &&
        refSeg(lo, words[w + SLOT.info]) === seg
      ) return i;
    }
    return -1;
  }

  /**
   * Where the record of slot `i` is, its check word verified:
   * `[seg, off, keyLen, valueLen]`; null for an empty or deleted slot.
   */
  recordOf(i: number, words: Int32Array): [number, number, number, number] | null {
    const w = this.word + i * SLOT.words;
    const lo = words[w + SLOT.refLo];
    if (lo === REF.empty || lo === REF.deleted) return null;
    const info = words[w + SLOT.info];
    const valueLen = words[w + SLOT.valueLen];
    if (words[w + SLOT.check] !== slotCheck(words[w], lo, info, valueLen)) {
      throw this.corrupt(i, "check word does not match");
    }
    return [refSeg(lo, info), refOff(lo), (info >>> 8) & 0xffff, valueLen >>> 0];
  }

  /**
   * Checks the key bytes of slot `i` against its record at arena offset
   * `at` (a key of `n` bytes): the slot's first key bytes are the
   * record's, and the record's key hashes to the slot's hash. Key bytes
   * have no check word of their own; this is how their damage shows,
   * when a lookup does not match and when the keys are listed.
   */
  checkKey(i: number, at: number, n: number, words: Int32Array, mem: Uint8Array): void {
    const w = this.word + i * SLOT.words;
    const slotKey = (w + SLOT.key) * 4;
    const key = at + RECORD.header;
    const inline = n < SLOT.keyBytes ? n : SLOT.keyBytes;
    for (let j = 0; j < inline; j++) {
      if (mem[slotKey + j] !== mem[key + j]) {
        throw this.corrupt(i, "its first key bytes differ from its record's");
      }
    }
    if (hashBytes(mem, key, n) !== words[w + SLOT.hash]) {
      throw this.corrupt(i, "its record's key bytes do not hash to it");
    }
  }

  /** Whether slot `i` was never used. */
  isEmpty(i: number, words: Int32Array): boolean {
    return words[this.word + i * SLOT.words + SLOT.refLo] === REF.empty;
  }

  private corrupt(slot: number, what: string): CorruptImageError {
    return new CorruptImageError(
      `kvmap index slot ${slot}: ${what}`,
      this.pa + BigInt(slot * SLOT.bytes),
    );
  }

  /**
   * Allocates a zeroed block for 2^log2 slots and copies every live slot
   * of this index in; `count` live slots are expected (another number is
   * damage). Returns the block; it is freed again when this throws.
   */
  rebuild(arena: Arena, log2: number, count: number): Region {
    const region = arena.allocRegion(indexPages(log2) * PAGE_SIZE, { zero: true });
    try {
      const copied = this.copyInto(arena.words, wordOf(region.pa), 2 ** log2 - 1);
      if (copied !== count) {
        throw new CorruptImageError(
          `kvmap index: ${copied} live slots, the state says ${count} keys`,
          this.pa,
        );
      }
    } catch (e) {
      arena.free(region.pa);
      throw e;
    }
    return region;
  }

  private copyInto(words: Int32Array, to: number, mask: number): number {
    let copied = 0;
    for (let i = 0; i <= this.mask; i++) {
      const w = this.word + i * SLOT.words;
      const lo = words[w + SLOT.refLo];
      if (lo === REF.empty || lo === REF.deleted) continue;
      if (copied > mask) throw this.corrupt(i, "more live slots than the new index holds");
      // At most `copied` <= mask slots are taken: the probe ends within mask + 1 steps.
      let j = words[w + SLOT.hash] & mask;
      while (words[to + j * SLOT.words + SLOT.refLo] !== REF.empty) j = (j + 1) & mask;
      words.copyWithin(to + j * SLOT.words, w, w + SLOT.words);
      copied++;
    }
    return copied;
  }
}
