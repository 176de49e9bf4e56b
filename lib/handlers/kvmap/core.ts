/**
 * The arena side of a preserved map: header page, hash index and record
 * log, and the mutations over them. Every mutation is one or more atomic
 * steps (see `journal.ts`): a growth step (a bigger index, a new log
 * segment), a compaction step, then the mutation itself; a process killed
 * anywhere leaves a map that reads as before or after the mutation.
 * Keys are prepared in {@link MapCore.keys} before a call.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../../errors.ts";
import {
  MAX_VALUE_BYTES,
  pfnOf,
  RECORD,
  recordBytes,
  REF,
  SEGMENT,
  SLOT,
  wordOf,
  writeRecordHeader,
  writeSegmentHeader,
} from "../../format/kvmap_log_ser.ts";
import { DIR, dirEntryAt, writeKvHeader } from "../../format/kvmap_ser.ts";
import { INDEX_LOG2, indexPages, type KvState, NONE } from "../../format/kvmap_state_ser.ts";
import { type Arena, PAGE_SIZE, type Region } from "../../kho/arena.ts";
import { attachToImage } from "./attach.ts";
import { Compactor } from "./compaction.ts";
import { Journal } from "./journal.ts";
import { KeyCodec } from "./keys.ts";
import { MIN_SEGMENT_BYTES, Segments } from "./segments.ts";
import { SlotIndex } from "./slot_index.ts";

/** A record as iteration hands it out. */
export interface RecordRef {
  /** Byte offset of the record in the arena. */
  at: number;
  /** Key bytes. */
  keyLen: number;
  /** Key flags. */
  keyFlags: number;
  /** Value bytes. */
  valueLen: number;
}

/** A region of the map with what it is. */
export type MapRegion = Region & { what: string };

/** The parts of a map read from (or made in) the arena. */
export interface MapParts {
  /** Physical address of the header page. */
  headerPa: bigint;
  /** Header flags. */
  flags: number;
  /** The committed state. */
  journal: Journal;
  /** The index. */
  index: SlotIndex;
  /** The log. */
  segments: Segments;
  /** Whether the map came from the published image (growth attaches new blocks to it). */
  adopted: boolean;
}

/** Header page, index and log of one map. */
export class MapCore {
  /** The arena holding everything. */
  readonly arena: Arena;
  /** Physical address of the header page (the file's `data`). */
  readonly headerPa: bigint;
  /** Header flags. */
  readonly flags: number;
  /** The committed state. */
  readonly journal: Journal;
  /** The record log. */
  readonly segments: Segments;
  /** The key of the next call. */
  readonly keys: KeyCodec = new KeyCodec();
  /** The index (replaced when it grows). */
  index: SlotIndex;
  /** Changes when the index is replaced (iterators stop then). */
  layout = 0;
  /** The arena's words and bytes (detached, so empty, once the arena is closed). */
  readonly words: Int32Array;
  /** The arena's bytes. */
  readonly mem: Uint8Array;
  /** The arena's memory (for views of values). */
  readonly buffer: ArrayBuffer;
  private readonly hdr: number;
  private readonly adopted: boolean;
  private compactor: Compactor | null = null;

  /** Wraps parts read or made by `adopt.ts` or {@link create}. */
  constructor(arena: Arena, parts: MapParts) {
    this.arena = arena;
    this.headerPa = parts.headerPa;
    this.flags = parts.flags;
    this.journal = parts.journal;
    this.index = parts.index;
    this.segments = parts.segments;
    this.adopted = parts.adopted;
    this.hdr = wordOf(parts.headerPa);
    this.words = arena.words;
    this.mem = arena.memory;
    this.buffer = this.mem.buffer as ArrayBuffer;
  }

  /** A new, empty map in `arena` (header page, a one-page index, a 64 KiB segment). */
  static create(arena: Arena, flags: number): MapCore {
    const blocks: bigint[] = [];
    try {
      const headerPa = arena.alloc(PAGE_SIZE, { zero: true });
      blocks.push(headerPa);
      const indexPa = arena.alloc(indexPages(INDEX_LOG2.min) * PAGE_SIZE, { zero: true });
      blocks.push(indexPa);
      const seg = arena.allocRegion(MIN_SEGMENT_BYTES, { zero: true }); // handed over whole
      blocks.push(seg.pa);
      const words = arena.words;
      const hdr = wordOf(headerPa);
      writeKvHeader(words, hdr, flags);
      writeSegmentHeader(words, wordOf(seg.pa), 0, 0);
      const info = { pfn: pfnOf(seg.pa), order: Math.log2(seg.pages), seq: 0, end: 0, dead: 0 };
      words[dirEntryAt(hdr, 0, 0) + DIR.pfn / 4] = info.pfn;
      words[dirEntryAt(hdr, 0, 0) + DIR.order / 4] = info.order;
      const state: KvState = {
        count: 0,
        indexPfn: pfnOf(indexPa),
        indexLog2: INDEX_LOG2.min,
        indexUsed: 0,
        dirHalf: 0,
        headSeg: 0,
        headOff: SEGMENT.header,
        live: 0,
        dead: 0,
        victimSeg: NONE,
        victimOff: 0,
        pendSlot: NONE,
        pendRef: 0,
        pendDeadSeg: NONE,
        pendDead: 0,
        nextSegSeq: 1,
      };
      const journal = new Journal(words, hdr, state, 0);
      const index = new SlotIndex(state.indexPfn, state.indexLog2);
      journal.commit(index.word, -1, -1);
      const dir = Array.from({ length: DIR.entries }, (_, i) => (i === 0 ? info : null));
      const segments = new Segments(arena, dir, false);
      return new MapCore(arena, { headerPa, flags, journal, index, segments, adopted: false });
    } catch (e) {
      for (const pa of blocks) arena.free(pa);
      throw e;
    }
  }

  /** The compaction (made on the first mutation: a successor's retrieve runs less code). */
  private compaction(): Compactor {
    return (this.compactor ??= new Compactor(this));
  }

  /** Word index of the header page in the arena's words. */
  get headerWord(): number {
    return this.hdr;
  }

  /** The committed state (read only outside a mutation). */
  get state(): KvState {
    return this.journal.state;
  }

  /** Commits the state being edited. */
  commit(): void {
    this.segments.commit(this.journal, this.index.word);
  }

  /** Commits the state with no pending store (they were applied by the last commit). */
  settle(): void {
    const st = this.state;
    if (st.pendSlot === NONE && st.pendDeadSeg === NONE) return;
    this.journal.begin();
    this.commit();
  }

  /** Makes room for `bytes` in the head segment (a growth step when needed). */
  ensureRoom(bytes: number): void {
    this.segments.ensureRoom(bytes, this.journal, this.index.word, this.hdr);
  }

  /** Seals the head segment and starts a new one (for compaction). */
  sealHead(): void {
    this.segments.sealHead(this.journal, this.index.word, this.hdr);
  }

  /** The slot of the prepared key (>= 0, its record at `index.found`), else `~free slot`. */
  find(): number {
    return this.index.find(this.keys, this.words, this.mem, this.segments, this.journal.state);
  }

  /** Sets the prepared key to `value`. */
  set(value: Uint8Array): void {
    if (value.length > MAX_VALUE_BYTES) {
      throw new LuoError(
        "EINVAL",
        `map value of ${value.length} bytes: at most ${MAX_VALUE_BYTES}`,
      );
    }
    const keys = this.keys;
    const size = recordBytes(keys.length, value.length);
    this.compaction().step(size);
    let slot = this.find();
    if (slot < 0 && this.index.full(this.state.indexUsed)) {
      this.rehash(SlotIndex.log2For(this.state.count + 1, this.index.log2));
      slot = this.find();
    }
    const old = slot >= 0 ? this.index.recordOf(slot, this.words)! : null;
    this.ensureRoom(size);
    const st = this.state;
    const ref = st.headSeg * REF.segShift + st.headOff / REF.unit;
    this.writeRecord(this.segments.base[st.headSeg] + st.headOff, size, value);
    const s = this.journal.begin();
    if (old) {
      const oldSize = recordBytes(old[2], old[3]);
      s.live += size - oldSize;
      s.dead += oldSize;
      s.pendDeadSeg = old[0];
      s.pendDead = this.segments.dead[old[0]] + oldSize;
    } else {
      slot = ~slot;
      if (this.index.isEmpty(slot, this.words)) s.indexUsed++;
      s.count++;
      s.live += size;
    }
    s.headOff += size;
    s.pendSlot = slot;
    s.pendRef = ref;
    this.commit();
  }

  private writeRecord(at: number, size: number, value: Uint8Array): void {
    const keys = this.keys;
    const mem = this.mem;
    writeRecordHeader(
      this.words,
      at / 4,
      keys.hash,
      keys.length | (keys.flags << 16),
      value.length,
    );
    keys.write(mem, at + RECORD.header);
    const v = at + RECORD.header + keys.length;
    mem.set(value, v);
    mem.fill(0, v + value.length, at + size);
  }

  /** Deletes the prepared key; returns whether it was there. */
  delete(): boolean {
    this.compaction().step(0);
    const slot = this.find();
    if (slot < 0) return false;
    const [seg, , keyLen, valueLen] = this.index.recordOf(slot, this.words)!;
    const size = recordBytes(keyLen, valueLen);
    const s = this.journal.begin();
    s.count--;
    s.live -= size;
    s.dead += size;
    s.pendDeadSeg = seg;
    s.pendDead = this.segments.dead[seg] + size;
    s.pendSlot = slot;
    s.pendRef = REF.deleted;
    this.commit();
    return true;
  }

  /** A new index of 2^log2 slots with every key (a growth step). */
  private rehash(log2: number): void {
    const region = this.index.rebuild(this.arena, log2, this.state.count);
    try {
      if (this.adopted) attachToImage(this.arena, region.pa);
    } catch (e) {
      this.arena.freeUnreferenced(region.pa);
      throw e;
    }
    this.replaceIndex(region, log2, (s) => (s.indexUsed = s.count));
  }

  /**
   * Commits a state naming the new index `region` (edited by `edit`), then
   * frees the old one at once: nothing names it any more, so it is
   * unlisted from the published image too (`Arena.freeUnreferenced`).
   */
  private replaceIndex(region: Region, log2: number, edit: (s: KvState) => void): void {
    const old = this.index;
    const s = this.journal.begin();
    s.indexPfn = pfnOf(region.pa);
    s.indexLog2 = log2;
    edit(s);
    this.index = new SlotIndex(s.indexPfn, log2);
    this.commit();
    this.layout++;
    this.arena.freeUnreferenced(old.pa);
  }

  /** Removes every key: a new empty index and log (allocated first: nothing changes on failure). */
  clear(): void {
    const region = this.arena.allocRegion(indexPages(INDEX_LOG2.min) * PAGE_SIZE, { zero: true });
    const old = this.index;
    try {
      if (this.adopted) attachToImage(this.arena, region.pa);
      this.index = new SlotIndex(pfnOf(region.pa), INDEX_LOG2.min);
      this.segments.reset(this.journal, this.index.word, this.hdr, (s) => {
        s.indexPfn = pfnOf(region.pa);
        s.indexLog2 = INDEX_LOG2.min;
        s.count =
          s.indexUsed =
          s.live =
          s.dead =
            0;
        s.victimSeg = NONE;
      });
    } catch (e) {
      this.index = old;
      this.arena.freeUnreferenced(region.pa);
      throw e;
    }
    this.layout++;
    this.arena.freeUnreferenced(old.pa);
  }

  /** Grows the index for `keys` keys and the head segment for `bytes` more bytes, if needed. */
  reserve(keys: number, bytes: number): void {
    const st = this.state;
    if (keys > st.count && this.index.full(st.indexUsed, keys - st.count)) {
      this.rehash(SlotIndex.log2For(keys, this.index.log2));
    }
    if (bytes > 0) this.ensureRoom(bytes);
  }

  /** Reclaims every dead byte (a head with dead bytes sealed first); returns the bytes freed. */
  compact(): number {
    return this.compaction().all();
  }

  /** The record in slot `i` (its header checked), or null when the slot holds none. */
  recordAt(i: number): RecordRef | null {
    const where = this.index.recordOf(i, this.words);
    if (!where) return null;
    const segs = this.segments;
    const at = segs.locate(where[0], where[1], this.journal.state, this.words, i);
    if (segs.record.keyLen !== where[2] || segs.record.valueLen !== where[3]) {
      throw new CorruptImageError(
        `kvmap index slot ${i}: its record's lengths differ`,
        this.index.pa + BigInt(i * SLOT.bytes),
      );
    }
    this.index.checkKey(i, at, where[2], this.words, this.mem);
    return {
      at,
      keyLen: segs.record.keyLen,
      keyFlags: segs.record.keyFlags,
      valueLen: segs.record.valueLen,
    };
  }

  /** Every block of the map: header page, index, segments. */
  regions(): MapRegion[] {
    return [
      { pa: this.headerPa, pages: 1, what: "kvmap header" },
      { pa: this.index.pa, pages: this.index.pages, what: "kvmap index" },
      ...this.segments.regions().map((r) => ({ ...r, what: "kvmap segment" })),
    ];
  }

  /** Frees every block of the map. */
  free(): void {
    for (const r of this.regions()) this.arena.free(r.pa);
  }
}
