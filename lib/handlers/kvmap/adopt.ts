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
  paOfPfn,
  readSegmentHeader,
  RECORD,
  REF,
  refSegOf,
  SEGMENT,
  wordOf,
} from "../../format/kvmap_log_ser.ts";
import { type KvHeader, readKvHeader } from "../../format/kvmap_ser.ts";
import { indexPages, type KvState, NONE } from "../../format/kvmap_state_ser.ts";
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
  // Plain loops, no callbacks: this runs once per retrieve, in a process whose code is cold.
  const claimed: bigint[] = [];
  try {
    if (claim) claimed.push(claimBlock(arena, pa, PAGE_SIZE, "kvmap header"));
    const header = readKvHeader(arena, pa);
    const st = header.state;
    const indexPa = paOfPfn(st.indexPfn);
    const indexBytes = indexPages(st.indexLog2) * PAGE_SIZE;
    if (claim) claimed.push(claimBlock(arena, indexPa, indexBytes, "kvmap index"));
    const regions: MapRegion[] = [
      { pa, pages: 1, what: "kvmap header" },
      { pa: indexPa, pages: indexBytes / PAGE_SIZE, what: "kvmap index" },
    ];
    const dir: (SegmentInfo | null)[] = [];
    for (let seg = 0; seg < header.dir.length; seg++) {
      const d = header.dir[seg];
      if (!d) {
        dir.push(null);
        continue;
      }
      const segPa = paOfPfn(d.pfn);
      const bytes = PAGE_SIZE * 2 ** d.order;
      if (claim) claimed.push(claimBlock(arena, segPa, bytes, "kvmap segment"));
      regions.push({ pa: segPa, pages: 2 ** d.order, what: "kvmap segment" });
      const h = readSegmentHeader(arena, segPa, seg, bytes, seg !== st.headSeg);
      const dead = seg === st.pendDeadSeg ? st.pendDead : h.dead;
      dir.push({ ...d, seq: h.seq, end: seg === st.headSeg ? 0 : h.end, dead });
    }
    checkCounters(header, dir, pa);
    return { header, dir, regions };
  } catch (e) {
    for (const at of claimed) arena.free(at);
    throw e;
  }
}

/** Claims the handed-over block at `pa`, which must be exactly `bytes` long. */
function claimBlock(arena: Arena, pa: bigint, bytes: number, what: string): bigint {
  const pages = arena.claim(pa, bytes, what);
  if (pages * PAGE_SIZE !== bytes) {
    arena.free(pa);
    throw new CorruptImageError(
      `${what}: the handed-over block has ${pages} pages, the map says ${bytes / PAGE_SIZE}`,
      pa,
    );
  }
  return pa;
}

/**
 * The state's counters against the segments: sequence numbers, bytes
 * used and dead, the compaction cursor, the pending slot store's record.
 * The message of a failure is built apart (see `readKvHeader`).
 */
function checkCounters(header: KvHeader, dir: (SegmentInfo | null)[], pa: bigint): void {
  const st = header.state;
  let used = 0;
  let dead = 0;
  let late = -1;
  for (let seg = 0; seg < dir.length; seg++) {
    const d = dir[seg];
    if (!d) continue;
    if (d.seq >= st.nextSegSeq) late = seg;
    used += (seg === st.headSeg ? st.headOff : d.end) - SEGMENT.header;
    dead += d.dead;
  }
  const victimEnd = st.victimSeg === NONE ? 0 : dir[st.victimSeg]!.end;
  const cursor = st.victimOff;
  const pendSeg = refSegOf(st.pendRef);
  const pendOff = (st.pendRef - pendSeg * REF.segShift) * REF.unit;
  const pendEnd = pendSeg === st.headSeg ? st.headOff : dir[pendSeg]?.end ?? 0;
  const problem = late >= 0
    ? 1
    : used !== st.live + st.dead || dead !== st.dead
    ? 2
    : st.victimSeg !== NONE &&
        (cursor < SEGMENT.header || cursor > victimEnd || cursor % RECORD.align !== 0)
    ? 3
    : st.pendSlot !== NONE && st.pendRef !== REF.deleted &&
        (pendOff < SEGMENT.header || pendOff + RECORD.header > pendEnd)
    ? 4
    : 0;
  if (problem !== 0) {
    throw countersError(problem, st, { late, used, dead, victimEnd, pendSeg, pendOff }, pa);
  }
}

function countersError(
  problem: number,
  st: KvState,
  v: {
    late: number;
    used: number;
    dead: number;
    victimEnd: number;
    pendSeg: number;
    pendOff: number;
  },
  pa: bigint,
): CorruptImageError {
  const what = [
    "",
    `segment ${v.late} has a sequence number from the future`,
    `${st.live} live and ${st.dead} dead bytes, but the segments hold ${v.used} bytes, ${v.dead} dead`,
    `compaction cursor ${st.victimOff} in a segment of ${v.victimEnd} bytes`,
    `pending slot store refers to ${v.pendSeg}:${v.pendOff}, outside the log`,
  ][problem];
  return new CorruptImageError(`kvmap state: ${what}`, pa);
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
  const journal = new Journal(arena.words, wordOf(pa), st, header.seq);
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
