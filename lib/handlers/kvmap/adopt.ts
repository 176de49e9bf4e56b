/**
 * Taking over a handed-over map: read and validate its header page,
 * claim its few blocks (header, index, one per log segment), check that
 * its counters agree with its segments, and re-apply the pending stores of
 * its committed state. No key is looked at: records are validated when
 * they are read.
 *
 * @module
 */

import { CorruptImageError } from "../../errors.ts";
import {
  indexPages,
  type KvHeader,
  NONE,
  paOfPfn,
  readKvHeader,
  readSegmentHeader,
  RECORD,
  REF,
  SEGMENT,
  wordOf,
} from "../../format/kvmap_ser.ts";
import { type Arena, PAGE_SIZE } from "../../kho/arena.ts";
import type { MapParts, MapRegion } from "./core.ts";
import { Journal } from "./journal.ts";
import { type SegmentInfo, Segments } from "./segments.ts";
import { SlotIndex } from "./slot_index.ts";

/** A handed-over map as read (and possibly claimed). */
export interface MapImage {
  /** The header page's contents. */
  header: KvHeader;
  /** Its segments, by directory entry. */
  dir: (SegmentInfo | null)[];
  /** Every block: header, index, segments. */
  regions: MapRegion[];
}

/**
 * Reads and validates the map whose header page is at `pa`; with `claim`,
 * claims every block first (and frees them all again when anything is
 * wrong). Throws a {@link CorruptImageError} naming what and where.
 */
export function readMapImage(arena: Arena, pa: bigint, claim: boolean): MapImage {
  const claimed: bigint[] = [];
  const take = (at: bigint, bytes: number, what: string) => {
    if (!claim) return;
    arena.claim(at, bytes, what);
    claimed.push(at);
  };
  try {
    take(pa, PAGE_SIZE, "kvmap header");
    const header = readKvHeader(arena, pa);
    const st = header.state;
    const indexPa = paOfPfn(st.indexPfn);
    take(indexPa, indexPages(st.indexLog2) * PAGE_SIZE, "kvmap index");
    const regions: MapRegion[] = [
      { pa, pages: 1, what: "kvmap header" },
      { pa: indexPa, pages: indexPages(st.indexLog2), what: "kvmap index" },
    ];
    const dir = header.dir.map((d, seg) => {
      if (!d) return null;
      const segPa = paOfPfn(d.pfn);
      const bytes = PAGE_SIZE * 2 ** d.order;
      take(segPa, bytes, `kvmap segment ${seg}`);
      regions.push({ pa: segPa, pages: 2 ** d.order, what: "kvmap segment" });
      const h = readSegmentHeader(arena, segPa, seg, bytes, seg !== st.headSeg);
      const dead = seg === st.pendDeadSeg ? st.pendDead : h.dead;
      return { ...d, seq: h.seq, end: seg === st.headSeg ? 0 : h.end, dead };
    });
    checkCounters(header, dir, pa);
    return { header, dir, regions };
  } catch (e) {
    for (const at of claimed) arena.free(at);
    throw e;
  }
}

/** The state's counters against the segments: bytes used, dead bytes, the compaction cursor. */
function checkCounters(header: KvHeader, dir: (SegmentInfo | null)[], pa: bigint): void {
  const st = header.state;
  const bad = (what: string) => new CorruptImageError(`kvmap state: ${what}`, pa);
  let used = 0;
  let dead = 0;
  dir.forEach((d, seg) => {
    if (!d) return;
    if (d.seq >= st.nextSegSeq) throw bad(`segment ${seg} has sequence ${d.seq}`);
    used += (seg === st.headSeg ? st.headOff : d.end) - SEGMENT.header;
    dead += d.dead;
  });
  if (used !== st.live + st.dead || dead !== st.dead) {
    throw bad(
      `${st.live} live and ${st.dead} dead bytes, but the segments hold ${used} bytes, ${dead} dead`,
    );
  }
  if (st.victimSeg !== NONE) {
    const end = dir[st.victimSeg]!.end;
    if (st.victimOff < SEGMENT.header || st.victimOff > end || st.victimOff % RECORD.align) {
      throw bad(`compaction cursor ${st.victimOff} in a segment of ${end} bytes`);
    }
  }
  if (st.pendSlot !== NONE && st.pendRef !== REF.deleted) {
    const seg = Math.floor(st.pendRef / REF.segShift);
    const off = (st.pendRef % REF.segShift) * REF.unit;
    const end = seg === st.headSeg ? st.headOff : dir[seg]!.end;
    if (off < SEGMENT.header || off + RECORD.header > end) {
      throw bad(`pending slot store refers to ${seg}:${off}, outside the log`);
    }
  }
}

/**
 * Claims and opens the map at `pa`: its parts, with the pending stores of
 * the committed state applied again (a predecessor may have been killed
 * between its commit and them).
 */
export function adoptMap(arena: Arena, pa: bigint): MapParts {
  const image = readMapImage(arena, pa, true);
  const { header } = image;
  const st = header.state;
  const journal = new Journal(arena.words, arena.memory, wordOf(pa), st, header.seq);
  const index = new SlotIndex(st.indexPfn, st.indexLog2);
  const segments = new Segments(arena, image.dir, true);
  const rec = segments.recordWord(st);
  if (rec >= 0) {
    const seg = Math.floor(st.pendRef / REF.segShift);
    segments.locate(
      seg,
      (st.pendRef - seg * REF.segShift) * REF.unit,
      st,
      arena.words,
      st.pendSlot,
    );
  }
  journal.replay(index.word, rec, st.pendDeadSeg === NONE ? -1 : segments.deadWord(st.pendDeadSeg));
  return { headerPa: pa, flags: header.flags, journal, index, segments, adopted: true };
}
