/**
 * Compaction of a preserved map's log, incremental: once dead bytes
 * (overwritten or deleted records) outnumber live ones, every mutation
 * first looks at a bounded number of bytes of the sealed segment with the
 * most dead bytes, moving the records still live to the head (one atomic
 * step each); when nothing live is left in it, the segment is dropped from
 * the directory (one atomic step) and its pages are freed.
 *
 * @module
 */

import { CorruptImageError } from "../../errors.ts";
import { REF, SEGMENT } from "../../format/kvmap_log_ser.ts";
import { DIR } from "../../format/kvmap_ser.ts";
import { type KvState, NONE } from "../../format/kvmap_state_ser.ts";
import type { Journal } from "./journal.ts";
import { MIN_SEGMENT_BYTES, type Segments } from "./segments.ts";
import type { SlotIndex } from "./slot_index.ts";

/** Bytes of the victim looked at per mutation: this many times the mutation's own record. */
const BUDGET_FACTOR = 4;
/** ... and at least this many. */
const MIN_BUDGET = 4096;

/** What compaction uses of a map's core (`MapCore` in core.ts, which owns a compactor). */
export interface CompactedMap {
  /** The committed state. */
  readonly state: KvState;
  /** The record log. */
  readonly segments: Segments;
  /** The index. */
  readonly index: SlotIndex;
  /** The commit journal. */
  readonly journal: Journal;
  /** The arena's bytes and words. */
  readonly mem: Uint8Array;
  /** The arena's words. */
  readonly words: Int32Array;
  /** Word offset of the header page. */
  readonly headerWord: number;
  /** Seals the head segment (a new one takes its place). */
  sealHead(): void;
  /** Makes room for `bytes` more at the head. */
  ensureRoom(bytes: number): void;
  /** Commits the pending state. */
  commit(): void;
}

/** The compaction of one map. */
export class Compactor {
  private core: CompactedMap;

  /** Compacts `core`'s log. */
  constructor(core: CompactedMap) {
    this.core = core;
  }

  /** Whether garbage is worth reclaiming now: more dead bytes than live, and at least a segment's worth. */
  private due(): boolean {
    const st = this.core.state;
    return st.dead > st.live && st.dead >= MIN_SEGMENT_BYTES;
  }

  /** One bounded step before a mutation whose record takes `bytes`. */
  step(bytes: number): void {
    const st = this.core.state;
    if (st.victimSeg === NONE) {
      if (!this.due()) return;
      if (!this.pick()) return;
    }
    this.scan(Math.max(BUDGET_FACTOR * bytes, MIN_BUDGET));
  }

  /**
   * Chooses the victim (in memory: it is committed with the next step):
   * the sealed segment with the most dead bytes. For `everything` (an
   * explicit compact), when no sealed segment has any, a head with dead
   * bytes is sealed first and taken. (Steps leave the head alone: its dead
   * bytes are bounded by its size, and it is sealed when it fills up.)
   */
  private pick(everything = false): boolean {
    const st = this.core.state;
    const segs = this.core.segments;
    let v = segs.dirtiest(st);
    const head = st.headSeg;
    if (v === NONE && everything && segs.dead[head] > 0) {
      this.core.sealHead();
      v = head;
    }
    if (v === NONE) return false;
    this.core.state.victimSeg = v; // the state as the seal left it
    this.core.state.victimOff = SEGMENT.header;
    return true;
  }

  /** Compacts every segment that has dead bytes (the head sealed first); returns the bytes freed. */
  all(): number {
    let freed = 0;
    for (let round = 0; round < 2 * DIR.entries; round++) {
      if (this.core.state.victimSeg === NONE && !this.pick(true)) return freed;
      freed += this.scan(Infinity);
    }
    return freed;
  }

  /**
   * Looks at up to `budget` bytes of the victim from its cursor; drops it
   * when it reaches its end. Returns the bytes freed.
   */
  private scan(budget: number): number {
    const core = this.core;
    const segs = core.segments;
    const st = core.state;
    const v = st.victimSeg;
    const end = segs.end[v];
    let off = st.victimOff;
    // Each record takes at least its 16-byte header: at most end / 16 rounds.
    while (budget > 0 && off < end) {
      const at = segs.locate(v, off, st, core.words, -1);
      const size = segs.record.size;
      const slot = core.index.findRef(segs.record.hash, v, off, core.words);
      if (slot >= 0) this.move(slot, at, size, off + size);
      budget -= size;
      off += size;
    }
    st.victimOff = off;
    return off >= end ? this.drop(v, end) : 0;
  }

  /** Moves the live record at `at` (in slot `slot`) to the head: one atomic step. */
  private move(slot: number, at: number, size: number, next: number): void {
    const core = this.core;
    const v = core.state.victimSeg;
    core.ensureRoom(size);
    const st = core.state;
    const ref = st.headSeg * REF.segShift + st.headOff / REF.unit;
    core.mem.copyWithin(core.segments.base[st.headSeg] + st.headOff, at, at + size);
    const s = core.journal.begin();
    s.headOff += size;
    s.dead += size;
    s.victimOff = next;
    s.pendDeadSeg = v;
    s.pendDead = core.segments.dead[v] + size;
    s.pendSlot = slot;
    s.pendRef = ref;
    core.commit();
  }

  /** Drops the victim, all of whose `end` bytes are dead now: one atomic step. */
  private drop(v: number, end: number): number {
    const core = this.core;
    const segs = core.segments;
    const bytes = end - SEGMENT.header;
    if (segs.dead[v] !== bytes) {
      throw new CorruptImageError(
        `kvmap segment ${v}: every record was moved or dead, yet it counts ${segs.dead[v]} ` +
          `dead bytes of ${bytes}`,
        segs.paOf(v) + BigInt(SEGMENT.dead),
      );
    }
    segs.release(v, core.journal, core.index.word, core.headerWord, (s) => {
      s.dead -= bytes;
      s.victimSeg = NONE;
      s.victimOff = 0;
    });
    return bytes;
  }
}
