/**
 * The handed-over file entries of one session, read in place: validated in
 * one pass over the arena (compatible strings compared as words against the
 * ones seen before, tokens indexed without allocating), then read on demand
 * by index or token. No per-file JavaScript object is created until a file
 * is retrieved.
 *
 * @module
 */

import { FILE_SER, readCString } from "./abi.ts";
import { CorruptImageError } from "./errors.ts";
import type { Arena } from "./kho.ts";
import { TokenIndex, tokenOf } from "./token_index.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("live-update needs a little-endian host");
}

/** A run of consecutive entries in arena memory. */
export interface EntrySegment {
  /** Physical address of the first entry. */
  pa: bigint;
  /** Number of entries. */
  count: number;
}

/** One handed-over file, materialized (for inspection and conversion). */
export interface FileRecord {
  compatible: string;
  data: bigint;
  token: bigint;
}

const WORDS = FILE_SER.compatibleLen / 4;
/** Most distinct compatible fields one session may hold. */
const MAX_COMPATS = 65535;

/**
 * The distinct 48-byte compatible fields met while reading one image, as
 * words for a fast compare, with their decoded strings. Shared by all the
 * sessions of an image so that each distinct field is decoded once.
 */
export class CompatTable {
  /** The fields, as 12 words each. */
  readonly raw: Int32Array[] = [];
  /** The decoded compatible strings, by id. */
  readonly names: string[] = [];
  /** The same fields as latin1 strings → id. */
  readonly byKey: Map<string, number> = new Map();
  /** Whether a compatible string is known (registered). */
  readonly known: (compatible: string) => boolean;

  /** An empty table accepting what `known` accepts. */
  constructor(known: (compatible: string) => boolean) {
    this.known = known;
  }
}

/** Validated file entries of one session. */
export class FileEntries {
  /** Number of entries. */
  readonly count: number;
  /** The runs of entries (file blocks after their headers, or a v3 array). */
  readonly segments: readonly EntrySegment[];
  #arena: Arena;
  #offsets: Float64Array; // byte offset of each segment's first entry
  #starts: Int32Array; // index of each segment's first entry
  #index: TokenIndex;
  #compatIds: Uint16Array;
  #compats: string[];

  private constructor(arena: Arena, segments: EntrySegment[], count: number) {
    this.#arena = arena;
    this.segments = segments;
    this.count = count;
    this.#offsets = new Float64Array(
      segments.map((s) => arena.offsetOf(s.pa, s.count * FILE_SER.size)),
    );
    this.#starts = new Int32Array(segments.length);
    for (let k = 1; k < segments.length; k++) {
      this.#starts[k] = this.#starts[k - 1] + segments[k - 1].count;
    }
    this.#index = new TokenIndex(count);
    this.#compatIds = new Uint16Array(count);
    this.#compats = [];
  }

  /**
   * Validates every entry: compatible NUL-terminated and `known`, tokens
   * unique. Errors name the session, the entry and its physical address.
   */
  static read(
    arena: Arena,
    segments: EntrySegment[],
    session: string,
    table: CompatTable,
  ): FileEntries {
    const count = segments.reduce((a, s) => a + s.count, 0);
    const e = new FileEntries(arena, segments, count);
    e.#compats = table.names;
    const words = arena.words;
    const bytes = arena.memory;
    const { raw, byKey, known } = table;
    let last = -1;
    let i = 0;
    for (let k = 0; k < segments.length; k++) {
      for (let j = 0, off = e.#offsets[k]; j < segments[k].count; j++, i++, off += FILE_SER.size) {
        const w = off >>> 2;
        // Where and what, built only for an error.
        const at = (field = 0) => segments[k].pa + BigInt(j * FILE_SER.size + field);
        const where = () => `session "${session}" file ${i}`;
        if (last < 0) last = raw.length - 1; // start from the last field met in the image
        if (last < 0 || !sameWords(words, w, raw[last])) {
          const key = String.fromCharCode(...bytes.subarray(off, off + FILE_SER.compatibleLen));
          last = byKey.get(key) ?? -1;
          if (last < 0) {
            const compatible = readCString(
              bytes,
              off + FILE_SER.compatible,
              FILE_SER.compatibleLen,
            );
            if (compatible === null || compatible.length === 0) {
              throw new CorruptImageError(
                `${where()}: compatible has no NUL within 48 bytes`,
                at(),
              );
            }
            if (!known(compatible)) {
              throw new CorruptImageError(`${where()}: unknown compatible "${compatible}"`, at());
            }
            if (raw.length >= MAX_COMPATS) {
              throw new CorruptImageError(`${where()}: too many distinct compatibles`, at());
            }
            raw.push(words.slice(w, w + WORDS));
            table.names.push(compatible);
            last = raw.length - 1;
            byKey.set(key, last);
          }
        }
        e.#compatIds[i] = last;
        const t = w + FILE_SER.token / 4;
        if (e.#index.set(words[t] >>> 0, words[t + 1] >>> 0, i) >= 0) {
          const token = tokenOf(words[t] >>> 0, words[t + 1] >>> 0);
          throw new CorruptImageError(`${where()}: duplicate token ${token}`, at(FILE_SER.token));
        }
      }
    }
    return e;
  }

  /** Byte offset in the arena of entry `i`. */
  #offset(i: number): number {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.#offsets[lo] + (i - starts[lo]) * FILE_SER.size;
  }

  /** Index of the entry with `token`, or -1. */
  find(lo: number, hi: number): number {
    return this.#index.get(lo, hi);
  }

  /** Token of entry `i`. */
  token(i: number): bigint {
    const w = (this.#offset(i) + FILE_SER.token) >>> 2;
    const words = this.#arena.words;
    return tokenOf(words[w] >>> 0, words[w + 1] >>> 0);
  }

  /** `data` of entry `i`. */
  data(i: number): bigint {
    return this.#arena.dataView.getBigUint64(this.#offset(i) + FILE_SER.data, true);
  }

  /** Compatible string of entry `i`. */
  compatible(i: number): string {
    return this.#compats[this.#compatIds[i]];
  }

  /** Every entry as a plain record (not for hot paths). */
  records(): FileRecord[] {
    return Array.from({ length: this.count }, (_, i) => ({
      compatible: this.compatible(i),
      data: this.data(i),
      token: this.token(i),
    }));
  }
}

function sameWords(words: Int32Array, w: number, r: Int32Array): boolean {
  for (let k = 0; k < WORDS; k++) if (words[w + k] !== r[k]) return false;
  return true;
}
