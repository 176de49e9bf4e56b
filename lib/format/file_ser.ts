/**
 * `luo_file_ser`: one handed-over file, 64 bytes, written and read here
 * only.
 *
 * ```
 * luo_file_ser   { char compatible[48]; u64 data; u64 token; }   64
 * ```
 *
 * Files are chained in 8192-byte blocks of 127 entries. The reader,
 * {@link FileEntries}, has the native library validate the entries of one
 * session in one pass (`lib/kho/records.ts`: the chain, each compatible
 * string against the known ones, tokens unique and indexed in a
 * `TokenIndex` it adopts), then reads them on demand by index or token: no
 * per-file JavaScript object is created until a file is retrieved.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho/arena.ts";
import { freeRegions } from "../kho/regions.ts";
import {
  chainFailure,
  readRecords,
  type RecordsFailure,
  type RecordsRead,
  type RecordsSpec,
} from "../kho/records.ts";
import { TokenIndex, tokenOf, TokenSequence } from "./token_index.ts";
import { BLOCK_HEADER, type ChainBlock, type ChainLayout, chainLayout } from "./block.ts";
import { readCString } from "./c_string.ts";
import { COMPATIBLE_LEN } from "./compatible.ts";
import type { CompatTable } from "./compat_table.ts";

/** `luo_file_ser` field offsets and sizes. */
export const FILE_SER = {
  size: 64,
  compatible: 0,
  compatibleLen: COMPATIBLE_LEN,
  data: 48,
  token: 56,
} as const;

/** File blocks: 8192 bytes, 127 files each. */
export const FILE_CHAIN: ChainLayout = chainLayout("file", 8192, FILE_SER.size);

export { compatibleField, MAX_COMPAT_BYTES } from "./compatible.ts";

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

/** Up to this many entries, a session keeps no token index: lookups scan (bounded, O(1)). */
const SMALL = 8;

/** The index a small set is checked with (zero-filled again after each use). */
const SMALL_INDEX = new Int32Array(16 * 4);
/** No index yet. */
const NO_INDEX = new Int32Array(0);
/** No tag ids yet. */
const NO_IDS = new Uint16Array(0);

/** Where a session's file entries are. */
export interface FileChain {
  /** Physical address of the first file block (0n: none). */
  head: bigint;
  /** The session's file count (the chain must hold exactly this many). */
  expected: number;
  /** Most blocks accepted. */
  maxBlocks: number;
  /** Claim the blocks (a successor) or only read them (inspection). */
  claim: boolean;
  /** What the chain is, for error messages. */
  what: string;
}

/** Validated file entries of one session, read in place. */
export class FileEntries {
  /** Number of entries. */
  readonly count: number;
  #arena: Arena;
  #blocks: BigUint64Array; // pa, count pairs
  #offsets: Float64Array; // byte offset in the arena of each run's first entry
  #per: number; // entries per run when every run but the last is full, else 0
  #starts: Float64Array | null = null; // index of each run's first entry (runs not full)
  #index: TokenIndex | TokenSequence | null; // null: a small set, scanned
  #ids: Uint16Array; // empty when every entry has compatible #uniform
  #uniform: number;
  #compats: string[];
  #claimed: boolean;

  private constructor(
    arena: Arena,
    read: RecordsRead,
    count: number,
    first: number,
    claimed: boolean,
    compats: string[],
  ) {
    this.#arena = arena;
    this.count = count;
    this.#blocks = read.blocks.subarray(0, 2 * read.nblocks);
    this.#ids = read.ids;
    this.#uniform = read.uniformTag ?? -1;
    this.#compats = compats;
    this.#claimed = claimed;
    this.#index = read.sequence
      ? new TokenSequence(read.sequence.base, read.sequence.step, count)
      : read.index === SMALL_INDEX
      ? null
      : TokenIndex.adopt(read.index, count, read.seed);
    const n = read.nblocks;
    this.#offsets = new Float64Array(n);
    // Uniform runs (every one but the last as large as the first, the last
    // no larger: what a handover writes) are addressed by division.
    let full = n === 0 || this.#blocks[2 * n - 1] <= this.#blocks[1];
    for (let k = 0; k < n; k++) {
      this.#offsets[k] = Number(this.#blocks[2 * k] - PHYS_BASE) + first;
      if (k + 1 < n && this.#blocks[2 * k + 1] !== this.#blocks[1]) full = false;
    }
    this.#per = n > 0 && full ? Number(this.#blocks[1]) : 0;
    if (!full) {
      this.#starts = new Float64Array(n);
      for (let k = 1; k < n; k++) {
        this.#starts[k] = this.#starts[k - 1] + Number(this.#blocks[2 * k - 1]);
      }
    }
  }

  /**
   * Reads a session's file chain: the chain, then every entry (compatible
   * NUL-terminated and in `table`, tokens unique), all checked before its
   * blocks are claimed (with `claim`). Errors name the chain or the
   * session, the entry and its physical address.
   */
  static readChain(
    arena: Arena,
    chain: FileChain,
    session: string,
    table: CompatTable,
  ): FileEntries {
    const spec = {
      ...FILE_RECORDS,
      head: chain.head,
      expected: chain.expected,
      maxBlocks: chain.maxBlocks,
      claim: chain.claim,
    };
    const read = FileEntries.#read(arena, spec, session, table, chain.what);
    return new FileEntries(
      arena,
      read,
      chain.expected,
      BLOCK_HEADER.size,
      chain.claim,
      table.names,
    );
  }

  /** Reads `count` entries stored back to back at `pa` (a v3 file array); claims nothing. */
  static readArray(
    arena: Arena,
    pa: bigint,
    count: number,
    session: string,
    table: CompatTable,
  ): FileEntries {
    const spec = { ...FILE_RECORDS, head: count > 0 ? pa : 0n, expected: count, array: true };
    const read = FileEntries.#read(
      arena,
      spec,
      session,
      table,
      `v3 file array of session "${session}"`,
    );
    return new FileEntries(arena, read, count, 0, false, table.names);
  }

  static #read(
    arena: Arena,
    spec: RecordsSpec,
    session: string,
    table: CompatTable,
    what: string,
  ): RecordsRead {
    const small = spec.expected <= SMALL;
    // No index unless the tokens are not a sequence (then the reader asks for one).
    // Nor ids unless the compatibles differ.
    const out = { ids: NO_IDS, index: small ? SMALL_INDEX : NO_INDEX };
    const fail = (f: RecordsFailure) =>
      chainFailure(what, f, spec) ?? entryFailure(arena, f, session);
    try {
      // An open table that fills up grows (to its bound) and the read runs again.
      for (;;) {
        try {
          return readRecords(arena, spec, table.tags, out, fail);
        } catch (e) {
          if (!(e instanceof TagsFull) || !table.grow()) throw e instanceof TagsFull ? e.error : e;
          out.index = small ? SMALL_INDEX.fill(0) : NO_INDEX; // keys indexed before the table filled up
          out.ids = NO_IDS;
        } finally {
          table.sync();
        }
      }
    } finally {
      if (small) SMALL_INDEX.fill(0);
    }
  }

  /** The blocks holding the entries (file blocks, or the one array of a v3 session). */
  get runs(): readonly ChainBlock[] {
    return Array.from({ length: this.#offsets.length }, (_, k) => ({
      pa: this.#blocks[2 * k],
      count: Number(this.#blocks[2 * k + 1]),
    }));
  }

  /** Frees the blocks it claimed (nothing for a read-only read or a v3 array). Idempotent. */
  release(): void {
    if (!this.#claimed) return;
    this.#claimed = false;
    freeRegions(
      this.#arena,
      this.runs.map((r) => ({ pa: r.pa, pages: FILE_CHAIN.blockSize / PAGE_SIZE })),
    );
  }

  /** Byte offset in the arena of entry `i`. */
  #offset(i: number): number {
    const per = this.#per;
    if (per > 0) {
      const k = Math.floor(i / per);
      return this.#offsets[k] + (i - k * per) * FILE_SER.size;
    }
    const starts = this.#starts!;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.#offsets[lo] + (i - starts[lo]) * FILE_SER.size;
  }

  /** Index of the token among the entries of a small set, or -1. */
  #scan(lo: number, hi: number): number {
    const words = this.#arena.words;
    for (let i = 0; i < this.count; i++) {
      const t = (this.#offset(i) + FILE_SER.token) / 4;
      if (words[t] >>> 0 === lo >>> 0 && words[t + 1] >>> 0 === hi >>> 0) return i;
    }
    return -1;
  }

  /** Index of the entry with `token`, or -1. */
  find(lo: number, hi: number): number {
    return this.#index ? this.#index.get(lo, hi) : this.#scan(lo, hi);
  }

  /** Token of entry `i`. */
  token(i: number): bigint {
    const w = (this.#offset(i) + FILE_SER.token) / 4; // not >>> 2: arenas may be larger than 4 GiB
    const words = this.#arena.words;
    return tokenOf(words[w] >>> 0, words[w + 1] >>> 0);
  }

  /** `data` of entry `i`. */
  data(i: number): bigint {
    return this.#arena.dataView.getBigUint64(this.#offset(i) + FILE_SER.data, true);
  }

  /** Compatible string of entry `i`. */
  compatible(i: number): string {
    return this.#compats[this.#uniform >= 0 ? this.#uniform : this.#ids[i]];
  }

  /** How many entries have each compatible string. */
  compatibleCounts(): Map<string, number> {
    if (this.count === 0) return new Map();
    if (this.#uniform >= 0) return new Map([[this.#compats[this.#uniform], this.count]]);
    const counts = new Float64Array(this.#compats.length);
    for (let i = 0; i < this.count; i++) counts[this.#ids[i]]++;
    const out = new Map<string, number>();
    counts.forEach((n, id) => n > 0 && out.set(this.#compats[id], n));
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

/** The native reader's geometry of file entries. */
const FILE_RECORDS: RecordsSpec = {
  head: 0n,
  expected: 0,
  maxBlocks: 1,
  blockSize: FILE_CHAIN.blockSize,
  recordSize: FILE_SER.size,
  tag: { offset: FILE_SER.compatible, size: FILE_SER.compatibleLen },
  keyOffset: FILE_SER.token,
  claim: false,
  array: false,
};

/** An open compatible table is full: grow it and read again (or throw `error`). */
class TagsFull extends Error {
  constructor(readonly error: CorruptImageError) {
    super(error.message);
  }
}

/** The error of a bad entry: its session, its index, what is wrong, its address. */
function entryFailure(arena: Arena, f: RecordsFailure, session: string): Error {
  const at = (msg: string) =>
    new CorruptImageError(`session "${session}" file ${f.record}: ${msg}`, f.pa);
  switch (f.reason) {
    case "tag-no-nul":
      return at(`compatible has no NUL within ${FILE_SER.compatibleLen} bytes`);
    case "tag-not-utf8":
      return at("compatible is not UTF-8");
    case "tag-unknown": {
      const off = Number(f.pa - PHYS_BASE);
      return at(`unknown compatible "${readCString(arena.memory, off, FILE_SER.compatibleLen)}"`);
    }
    case "tags-full":
      return new TagsFull(at("too many distinct compatibles"));
    case "duplicate-key": {
      const w = Number(f.pa - PHYS_BASE) / 4;
      return at(`duplicate token ${tokenOf(arena.words[w] >>> 0, arena.words[w + 1] >>> 0)}`);
    }
    default:
      return at(`entry refused (${f.reason})`);
  }
}
