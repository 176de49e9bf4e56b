/**
 * The record log of a preserved map: up to 240 segments (blocks of
 * pages) named by the header's directory, records appended to the head
 * segment. Locating a record validates where it lies and its header
 * before any of its bytes is used. Adding or dropping a segment writes the
 * directory half not in use and commits the state that selects it.
 *
 * @module
 */

import { CorruptImageError, LiveUpdateError, LuoError } from "../../errors.ts";
import {
  MAX_SEGMENT_BYTES,
  pfnOf,
  RECORD,
  RecordHeader,
  REF,
  SEGMENT,
  wordOf,
  writeSegmentHeader,
} from "../../format/kvmap_log_ser.ts";
import { DIR, dirEntryAt } from "../../format/kvmap_ser.ts";
import { type KvState, NONE } from "../../format/kvmap_state_ser.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE, type Region } from "../../kho/arena.ts";
import { attachToImage } from "./attach.ts";
import type { Journal } from "./journal.ts";

/** Smallest segment: 64 KiB. */
export const MIN_SEGMENT_BYTES = 64 << 10;
/** Largest segment chosen for growth (a single larger record gets a segment of its own size). */
const GROWTH_SEGMENT_BYTES = 1 << 30;

/** One segment as the directory names it, with its header's counters. */
export interface SegmentInfo {
  /** Page number of its block. */
  pfn: number;
  /** log2 of its pages. */
  order: number;
  /** Creation sequence number. */
  seq: number;
  /** Bytes used once sealed. */
  end: number;
  /** Bytes of dead records. */
  dead: number;
}

/** The segments of one map, mirrored from the arena. */
export class Segments {
  /** Byte offset in the arena of each segment (by directory entry). */
  readonly base: Float64Array = new Float64Array(DIR.entries);
  /** Bytes used by each sealed segment (0: no segment; the head's is in the state). */
  readonly end: Float64Array = new Float64Array(DIR.entries);
  /** Dead bytes of each segment. */
  readonly dead: Float64Array = new Float64Array(DIR.entries);
  /** Bytes of each segment's block (0: no segment). */
  readonly bytes: Float64Array = new Float64Array(DIR.entries);
  /** The header of the record last located. */
  readonly record: RecordHeader = new RecordHeader();
  private arena: Arena;
  private info: (SegmentInfo | null)[];
  private adopted: boolean;

  /** The segments of `dir`; `adopted` when the map came from the published image. */
  constructor(arena: Arena, dir: (SegmentInfo | null)[], adopted: boolean) {
    this.arena = arena;
    this.info = dir;
    this.adopted = adopted;
    for (let seg = 0; seg < dir.length; seg++) {
      const d = dir[seg];
      if (d) this.mirror(seg, d);
    }
  }

  private mirror(seg: number, d: SegmentInfo): void {
    this.bytes[seg] = PAGE_SIZE * 2 ** d.order;
    this.base[seg] = d.pfn * PAGE_SIZE;
    this.end[seg] = d.end;
    this.dead[seg] = d.dead;
  }

  /** Directory entries in use, with their info. */
  entries(): [number, SegmentInfo][] {
    const out: [number, SegmentInfo][] = [];
    this.info.forEach((d, seg) => {
      if (d) out.push([seg, { ...d, end: this.end[seg], dead: this.dead[seg] }]);
    });
    return out;
  }

  /** Physical address of segment `seg`'s block. */
  paOf(seg: number): bigint {
    return PHYS_BASE + BigInt(this.base[seg]);
  }

  /** Word index of segment `seg`'s dead counter. */
  deadWord(seg: number): number {
    return this.base[seg] / 4 + SEGMENT.dead / 4;
  }

  /**
   * Byte offset in the arena of the record at `off` in segment `seg` (as
   * slot `slot` refers to it), its header validated: inside the used bytes
   * of an existing segment, check word right. Its fields are left in this
   * object.
   */
  locate(seg: number, off: number, st: KvState, words: Int32Array, slot: number): number {
    const used = seg === st.headSeg
      ? st.headOff
      : seg >= 0 && seg < DIR.entries
      ? this.end[seg]
      : 0;
    if (off < SEGMENT.header || off + RECORD.header > used) {
      throw this.corrupt(`index slot ${slot}: record ${seg}:${off} is outside the log`, seg);
    }
    const at = this.base[seg] + off;
    const r = this.record;
    if (!r.read(words, at / 4) || off + r.size > used) {
      throw this.corrupt(`record at ${seg}:${off}: damaged header`, seg, off);
    }
    return at;
  }

  /**
   * Byte offset in the arena of a record of `keyLen` + `valueLen` bytes at
   * `off` in segment `seg` (as slot `slot` says), checked to lie inside
   * the used bytes of an existing segment; its header is not read.
   */
  span(seg: number, off: number, keyLen: number, valueLen: number, st: KvState, slot: number) {
    const used = seg === st.headSeg
      ? st.headOff
      : seg >= 0 && seg < DIR.entries
      ? this.end[seg]
      : 0;
    if (off < SEGMENT.header || off + RECORD.header + keyLen + valueLen > used) {
      throw this.corrupt(`index slot ${slot}: record ${seg}:${off} is outside the log`, seg);
    }
    return this.base[seg] + off;
  }

  /** A {@link CorruptImageError} at segment `seg` (offset `off`). */
  private corrupt(what: string, seg: number, off = 0): CorruptImageError {
    const d = seg >= 0 && seg < DIR.entries ? this.info[seg] : null;
    const where = d ? PHYS_BASE + BigInt(d.pfn * PAGE_SIZE + off) : `kvmap segment ${seg}`;
    return new CorruptImageError(`kvmap ${what}`, where);
  }

  /**
   * Makes room for `bytes` more in the head segment: when they do not fit,
   * a new head segment (sized for the map, at least `bytes`) replaces it;
   * the old head is sealed (or dropped when empty). One commit.
   */
  ensureRoom(bytes: number, journal: Journal, index: number, hdr: number): void {
    const st = journal.state;
    if (st.headOff + bytes <= this.bytes[st.headSeg]) return;
    this.newHead(bytes + SEGMENT.header, journal, index, hdr);
  }

  /**
   * Seals the head segment (so that compaction may take it) and starts a
   * new one; for a head that holds mostly dead bytes. One commit.
   */
  sealHead(journal: Journal, index: number, hdr: number): void {
    // As large as the old head if memory allows: a reserve() stays in force.
    this.newHead(MIN_SEGMENT_BYTES, journal, index, hdr, this.bytes[journal.state.headSeg]);
  }

  /**
   * A new head segment of at least `need` bytes (`want` if memory allows,
   * else sized for the map); the old head sealed (dropped when empty).
   */
  private newHead(need: number, journal: Journal, index: number, hdr: number, want = 0): void {
    const st = journal.state;
    const bytes = need - SEGMENT.header;
    if (need > MAX_SEGMENT_BYTES) {
      throw new LuoError("EINVAL", `map: a record of ${bytes} bytes does not fit a segment`);
    }
    const seg = this.info.findIndex((d) => d === null);
    if (seg < 0) {
      throw new LuoError("ENOSPC", `map: all ${DIR.entries} segments are in use`);
    }
    want ||= Math.min(GROWTH_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, (st.live + st.dead) / 4));
    const info = this.newSegment(need, want, seg, st.nextSegSeq);
    const old = st.headSeg;
    const empty = st.headOff === SEGMENT.header;
    // Sealing writes the old head's end where no reader looks until the commit.
    this.arena.words[this.base[old] / 4 + SEGMENT.end / 4] = st.headOff;
    const sealedEnd = st.headOff;
    const dir = this.info.slice();
    dir[seg] = info;
    if (empty) dir[old] = null;
    const s = journal.begin();
    this.switchDir(dir, hdr, journal);
    s.headSeg = seg;
    s.headOff = SEGMENT.header;
    s.nextSegSeq = (s.nextSegSeq + 1) >>> 0;
    this.commit(journal, index);
    if (empty) this.drop(old);
    else this.end[old] = sealedEnd;
    this.info = dir;
    this.mirror(seg, info);
  }

  /**
   * Allocates segment `seg` (at least `need` bytes, `want` if memory
   * allows), writes its header and attaches it to the published image when
   * the map came from it. Nothing names it yet.
   */
  private newSegment(need: number, want: number, seg: number, seq: number): SegmentInfo {
    const region = this.alloc(need, want);
    try {
      writeSegmentHeader(this.arena.words, wordOf(region.pa), seg, seq);
      if (this.adopted) attachToImage(this.arena, region.pa);
    } catch (e) {
      this.arena.freeUnreferenced(region.pa);
      throw e;
    }
    return { pfn: pfnOf(region.pa), order: Math.log2(region.pages), seq, end: 0, dead: 0 };
  }

  /**
   * Replaces the whole log by one new, empty segment: one commit (with
   * `edit` making the rest of the state change), then every old segment is
   * freed. Nothing changes when the allocation fails.
   */
  reset(journal: Journal, index: number, hdr: number, edit: (s: KvState) => void): void {
    const st = journal.state;
    let seg = this.info.findIndex((d) => d === null);
    if (seg < 0) seg = st.headSeg === 0 ? 1 : 0;
    const info = this.newSegment(MIN_SEGMENT_BYTES, MIN_SEGMENT_BYTES, seg, st.nextSegSeq);
    const dir: (SegmentInfo | null)[] = this.info.map((_, i) => (i === seg ? info : null));
    const old = this.entries().map(([i]) => i);
    const s = journal.begin();
    this.switchDir(dir, hdr, journal);
    edit(s);
    s.headSeg = seg;
    s.headOff = SEGMENT.header;
    s.nextSegSeq = (s.nextSegSeq + 1) >>> 0;
    this.commit(journal, index);
    for (const i of old) this.drop(i);
    this.info = dir;
    this.mirror(seg, info);
  }

  /**
   * Commits the state being edited: the pending dead counter, if any, goes
   * to its segment's header; `index` is the index block's word index.
   */
  commit(journal: Journal, index: number): void {
    const st = journal.state;
    const seg = st.pendDeadSeg;
    journal.commit(index, this.recordWord(st), seg === NONE ? -1 : this.deadWord(seg));
    if (seg !== NONE) this.dead[seg] = st.pendDead;
  }

  /** Word index of the record the pending slot store refers to (-1: none). */
  recordWord(st: KvState): number {
    if (st.pendSlot === NONE || st.pendRef === REF.deleted) return -1;
    const seg = Math.floor(st.pendRef / REF.segShift);
    return (this.base[seg] + (st.pendRef - seg * REF.segShift) * REF.unit) / 4;
  }

  /**
   * Allocates a zeroed block of at least `need` bytes, preferring `want`
   * (smaller when memory is short): the whole segment is handed over, so
   * past the log's end it must not hold a freed file's bytes.
   */
  private alloc(need: number, want: number): Region {
    let size = 2 ** Math.ceil(Math.log2(Math.max(need, want)));
    const min = 2 ** Math.ceil(Math.log2(need));
    for (;;) {
      try {
        return this.arena.allocRegion(size, { zero: true });
      } catch (e) {
        if (!(e instanceof LiveUpdateError) || e.code !== "ENOMEM" || size <= min) throw e;
        size /= 2;
      }
    }
  }

  /** Writes `dir` into the directory half not in use and selects it in the state (not committed). */
  private switchDir(dir: (SegmentInfo | null)[], hdr: number, journal: Journal): void {
    const words = this.arena.words;
    const half = 1 - journal.state.dirHalf;
    for (let seg = 0; seg < DIR.entries; seg++) {
      const w = dirEntryAt(hdr, half, seg);
      words[w + DIR.pfn / 4] = dir[seg]?.pfn ?? 0;
      words[w + DIR.order / 4] = dir[seg]?.order ?? 0;
    }
    journal.state.dirHalf = half;
  }

  /**
   * Frees segment `seg`'s block and forgets it, after a commit that no
   * longer names it: at once, unlisted from the published image if it was
   * listed there (a segment of the predecessor's, or one attached since), so
   * that the room a successor needs stays bounded by what the map holds.
   */
  private drop(seg: number): void {
    const d = this.info[seg];
    this.info[seg] = null;
    this.base[seg] = 0;
    this.bytes[seg] = 0;
    this.end[seg] = 0;
    this.dead[seg] = 0;
    if (d) this.arena.freeUnreferenced(PHYS_BASE + BigInt(d.pfn * PAGE_SIZE));
  }

  /**
   * Drops sealed segment `seg` (all of whose records are dead): one commit
   * of a directory without it, with `edit` making the rest of the state
   * change; then its block is freed.
   */
  release(seg: number, journal: Journal, index: number, hdr: number, edit: (s: KvState) => void) {
    const dir = this.info.map((d, i) => (i === seg ? null : d));
    const s = journal.begin();
    this.switchDir(dir, hdr, journal);
    edit(s);
    this.commit(journal, index);
    this.drop(seg);
  }

  /** Every block of the log. */
  regions(): Region[] {
    return this.entries().map(([, d]) => ({
      pa: PHYS_BASE + BigInt(d.pfn * PAGE_SIZE),
      pages: 2 ** d.order,
    }));
  }

  /** The sealed segment with the most dead bytes (none: {@link NONE}). */
  dirtiest(st: KvState): number {
    let best = NONE;
    let most = 0;
    this.info.forEach((d, seg) => {
      if (d && seg !== st.headSeg && this.dead[seg] > most) {
        most = this.dead[seg];
        best = seg;
      }
    });
    return best;
  }
}
