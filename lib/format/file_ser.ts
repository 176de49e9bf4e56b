/**
 * `luo_file_ser`: one handed-over file, 64 bytes, written and read here
 * only.
 *
 * ```
 * luo_file_ser   { char compatible[48]; u64 data; u64 token; }   64
 * ```
 *
 * Files are chained in 8192-byte blocks of 127 entries. The reader,
 * {@link FileEntries}, validates the entries of one session in one pass
 * over the arena (compatible strings compared as words against the ones
 * seen before, tokens indexed without allocating), then reads them on
 * demand by index or token: no per-file JavaScript object is created until
 * a file is retrieved.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../errors.ts";
import type { Arena } from "../kho/arena.ts";
import { TokenIndex, tokenOf } from "./token_index.ts";
import { type ChainBlock, type ChainLayout, chainLayout } from "./block.ts";
import { checkCString, cStringLength, readCString } from "./c_string.ts";

/** `luo_file_ser` field offsets and sizes. */
export const FILE_SER = {
  size: 64,
  compatible: 0,
  compatibleLen: 48,
  data: 48,
  token: 56,
} as const;

/** File blocks: 8192 bytes, 127 files each. */
export const FILE_CHAIN: ChainLayout = chainLayout("file", 8192, FILE_SER.size);

/** Longest compatible string in bytes (its NUL must fit in the 48-byte field). */
export const MAX_COMPAT_BYTES = FILE_SER.compatibleLen - 1;

/**
 * The 48-byte compatible field of `compatible`: a well-formed string of
 * 1..47 UTF-8 bytes without NUL (`EINVAL` otherwise).
 */
export function compatibleField(compatible: unknown): Uint8Array {
  const r = checkCString(compatible, FILE_SER.compatibleLen);
  if ("why" in r) {
    throw new LuoError("EINVAL", `handler compatible ${JSON.stringify(compatible)} ${r.why}`);
  }
  const field = new Uint8Array(FILE_SER.compatibleLen);
  field.set(r.bytes);
  return field;
}

/**
 * Writes one `luo_file_ser` at byte offset `off`; `field` is the 48-byte
 * field from {@link compatibleField}, the token is given as its two 32-bit
 * halves.
 */
export function writeFileEntry(
  dv: DataView,
  bytes: Uint8Array,
  off: number,
  field: Uint8Array,
  data: bigint,
  lo: number,
  hi: number,
): void {
  bytes.set(field, off + FILE_SER.compatible);
  dv.setBigUint64(off + FILE_SER.data, data, true);
  dv.setUint32(off + FILE_SER.token, lo, true);
  dv.setUint32(off + FILE_SER.token + 4, hi, true);
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error("live-update needs a little-endian host");
}

/** One handed-over file, materialized (for inspection and conversion). */
export interface FileRecord {
  compatible: string;
  data: bigint;
  token: bigint;
}

/** Most distinct compatible fields one session may hold. */
const MAX_COMPATS = 65535;

/**
 * The distinct 48-byte compatible fields met while reading one image, as
 * words for a fast compare, with their decoded strings. Shared by all the
 * sessions of an image so that each distinct field is decoded once.
 */
export class CompatTable {
  /**
   * The known fields, as the words that hold the string and its NUL (the
   * last one masked to those bytes): what follows the NUL does not matter.
   */
  readonly raw: Int32Array[] = [];
  /** Per field, the mask of the last word's meaningful bytes. */
  readonly masks: number[] = [];
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

/** Up to this many entries, a session needs no hash table: lookups scan (bounded, O(1)). */
const SMALL = 8;

/** Validated file entries of one session. */
export class FileEntries {
  /** Number of entries. */
  readonly count: number;
  /** The runs of entries: file blocks, or the one array of a v3 session. */
  readonly runs: readonly ChainBlock[];
  #arena: Arena;
  #offsets: number[]; // byte offset of each run's first entry
  #starts: number[]; // index of each run's first entry
  #index: TokenIndex | null; // null for small sets
  #compatIds: Uint16Array | number[];
  #compats: string[];

  private constructor(
    arena: Arena,
    runs: readonly ChainBlock[],
    first: number,
    count: number,
    compats: string[],
  ) {
    this.#arena = arena;
    this.runs = runs;
    this.count = count;
    this.#offsets = runs.map((r) => arena.offsetOf(r.pa, first + r.count * FILE_SER.size) + first);
    this.#starts = [0];
    for (let k = 1; k < runs.length; k++) {
      this.#starts.push(this.#starts[k - 1] + runs[k - 1].count);
    }
    this.#index = count > SMALL ? new TokenIndex(count) : null;
    this.#compatIds = count > SMALL ? new Uint16Array(count) : [];
    this.#compats = compats;
  }

  /**
   * Validates every entry: compatible NUL-terminated and `known`, tokens
   * unique. `runs` are the blocks holding the entries, each `first` bytes
   * (its header) before its first entry. Errors name the session, the entry
   * and its physical address.
   */
  static read(
    arena: Arena,
    runs: readonly ChainBlock[],
    first: number,
    session: string,
    table: CompatTable,
  ): FileEntries {
    const count = runs.reduce((a, r) => a + r.count, 0);
    const e = new FileEntries(arena, runs, first, count, table.names);
    const words = arena.words;
    const bytes = arena.memory;
    const { raw, masks, byKey, known } = table;
    const fail = (msg: string, k: number, j: number, i: number, field = 0): never => {
      const pa = runs[k].pa + BigInt(first + j * FILE_SER.size + field);
      throw new CorruptImageError(`session "${session}" file ${i}: ${msg}`, pa);
    };
    let last = raw.length - 1; // start from the last field met in the image
    let i = 0;
    for (let k = 0; k < runs.length; k++) {
      for (let j = 0, off = e.#offsets[k]; j < runs[k].count; j++, i++, off += FILE_SER.size) {
        const w = off / 4; // not >>> 2: arenas may be larger than 4 GiB
        if (last < 0 || !samePrefix(words, w, raw[last], masks[last])) {
          const key = String.fromCharCode(...bytes.subarray(off, off + FILE_SER.compatibleLen));
          last = byKey.get(key) ?? -1;
          if (last < 0) {
            const compatible = readCString(
              bytes,
              off + FILE_SER.compatible,
              FILE_SER.compatibleLen,
            );
            if (compatible === null || compatible.length === 0) {
              fail("compatible has no NUL within 48 bytes", k, j, i);
            }
            if (!known(compatible!)) fail(`unknown compatible "${compatible}"`, k, j, i);
            if (raw.length >= MAX_COMPATS) fail("too many distinct compatibles", k, j, i);
            // The words up to and including the NUL; the last one masked.
            const len = cStringLength(bytes, off, FILE_SER.compatibleLen);
            const n = (len >>> 2) + 1;
            const mask = (len & 3) === 3 ? -1 : (2 ** (8 * ((len & 3) + 1)) - 1) | 0;
            const r = words.slice(w, w + n);
            r[n - 1] &= mask;
            raw.push(r);
            masks.push(mask);
            table.names.push(compatible!);
            last = raw.length - 1;
            byKey.set(key, last);
          }
        }
        e.#compatIds[i] = last;
        const t = w + FILE_SER.token / 4;
        const lo = words[t] >>> 0;
        const hi = words[t + 1] >>> 0;
        if (e.#index ? e.#index.set(lo, hi, i) >= 0 : e.#scan(lo, hi, i) >= 0) {
          fail(`duplicate token ${tokenOf(lo, hi)}`, k, j, i, FILE_SER.token);
        }
      }
    }
    return e;
  }

  /** Index of the token among the first `n` entries of a small set, or -1. */
  #scan(lo: number, hi: number, n: number): number {
    const words = this.#arena.words;
    for (let i = 0; i < n; i++) {
      const t = (this.#offset(i) + FILE_SER.token) / 4;
      if (words[t] >>> 0 === lo && words[t + 1] >>> 0 === hi) return i;
    }
    return -1;
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
    return this.#index ? this.#index.get(lo, hi) : this.#scan(lo, hi, this.count);
  }

  /** Token of entry `i`. */
  token(i: number): bigint {
    const w = (this.#offset(i) + FILE_SER.token) / 4;
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

  /** How many entries have each compatible string. */
  compatibleCounts(): Map<string, number> {
    const out = new Map<string, number>();
    for (let i = 0; i < this.count; i++) {
      const c = this.compatible(i);
      out.set(c, (out.get(c) ?? 0) + 1);
    }
    return out;
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

/** Whether the field at word `w` holds the string of `r` (and its NUL). */
function samePrefix(words: Int32Array, w: number, r: Int32Array, mask: number): boolean {
  const n = r.length - 1;
  for (let k = 0; k < n; k++) if (words[w + k] !== r[k]) return false;
  return (words[w + n] & mask) === r[n];
}
