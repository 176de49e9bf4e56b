/**
 * `kvmap_ser`: the on-arena layout of a kvmap-v1 map (a hash map whose
 * keys, values and index all live in arena pages). The header page's
 * fields and directory are written and read here, its state copies in
 * `kvmap_state_ser.ts`, segments, records and index slots in
 * `kvmap_log_ser.ts`. Every number is little-endian; words are u32.
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
import { SEGMENT, wordOf } from "./kvmap_log_ser.ts";
import {
  checkState,
  type DirEntry,
  type KvState,
  readState,
  STATE,
  stateSealed,
  writeState,
} from "./kvmap_state_ser.ts";

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

/** Directory: two halves of `entries` entries `{ u32 pfn; u32 order; }`. */
export const DIR = { entries: 240, entryBytes: 8, pfn: 0, order: 4 } as const;

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
  writeState(words, stateAt(hdr, seq), seq, s);
  words[hdr + KVMAP_HEADER.active / 4] = seq; // the commit
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
  const state = readState(words, st);
  const dir = readDir(words, hdr, state.dirHalf, pages, pa);
  checkState(state, dir, pages, pa + BigInt(st * 4 - hdr * 4));
  return { flags: words[hdr + KVMAP_HEADER.flags / 4], seq, state, dir };
}

/** The first failing check of the header fields and the state copy's seal (0: none). */
function headerProblem(words: Int32Array, hdr: number, seq: number, st: number): number {
  if (words[hdr] !== MAGIC_WORDS[0] || words[hdr + 1] !== MAGIC_WORDS[1]) return 1;
  if (words[hdr + KVMAP_HEADER.version / 4] !== KVMAP_VERSION) return 2;
  if ((words[hdr + KVMAP_HEADER.flags / 4] & ~KVMAP_FLAGS.clonedValues) !== 0) return 3;
  if (!stateSealed(words, st, seq)) return 4;
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
