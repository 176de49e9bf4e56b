/**
 * The one generic chain of linked serialization blocks, used by sessions,
 * file sets, memfd extents and inspection alike (block and entry size are
 * parameters of a {@link ChainLayout}), in both directions:
 *
 * - outgoing: {@link BlockChain.outgoing} makes an empty chain that grows
 *   block by block as entries are added ({@link BlockChain.reserve}), so that
 *   {@link BlockChain.fill} at handover never allocates, and shrinks when
 *   the last entries of a block go away;
 * - incoming: {@link BlockChain.incoming} validates a handed-over chain
 *   (alignment, bounds, cycle, cap, counts, total) before it claims any
 *   page, then owns the blocks it claimed until {@link BlockChain.release}.
 *
 * Every block starts with `{ u64 next; u64 count; }`: `next` is the
 * physical address of the next block (0 ends the chain), `count` the
 * entries that follow in this block, never 0. This is the only code that
 * follows `next` pointers.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho/arena.ts";

/** Generic block header `{ u64 next; u64 count; }`. */
export const BLOCK_HEADER = { size: 16, next: 0, count: 8 } as const;

/**
 * Default safety cap on the blocks of one chain (configurable per live update).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BLOCKS, LiveUpdate } from "@luo/live-update";
 * // A successor that trusts its image less: a quarter of the default cap.
 * using luo = LiveUpdate.create({ size: 1 << 20, maxBlocks: DEFAULT_MAX_BLOCKS / 4 });
 * console.log(DEFAULT_MAX_BLOCKS); // 1048576
 * ```
 */
export const DEFAULT_MAX_BLOCKS = 1 << 20;

/** The geometry of one kind of block chain. */
export interface ChainLayout {
  /** What the chain holds, for error messages ("session", "file", ...). */
  readonly what: string;
  /** Bytes per block, a multiple of the page size. */
  readonly blockSize: number;
  /** Bytes per entry. */
  readonly entrySize: number;
  /** Entries per block: (blockSize - header) / entrySize. */
  readonly perBlock: number;
}

/** The layout of a chain of `blockSize`-byte blocks of `entrySize`-byte entries. */
export function chainLayout(what: string, blockSize: number, entrySize: number): ChainLayout {
  const perBlock = Math.floor((blockSize - BLOCK_HEADER.size) / entrySize);
  if (blockSize % PAGE_SIZE !== 0 || blockSize <= 0 || entrySize <= 0 || perBlock < 1) {
    throw new LuoError("EINVAL", `chain layout of ${what}: bad block or entry size`);
  }
  return { what, blockSize, entrySize, perBlock };
}

/** One block of a chain: its physical address and how many entries it holds. */
export interface ChainBlock {
  /** Physical address of the block header. */
  readonly pa: bigint;
  /** Entries in this block. */
  readonly count: number;
}

/** Writes entry `i` at byte offset `off` of the arena (a DataView over all of it). */
export type EntryWriter = (dv: DataView, bytes: Uint8Array, off: number, i: number) => void;
/** Reads entry `i` at byte offset `off`; `pa` is the entry's physical address. */
export type EntryReader = (
  dv: DataView,
  bytes: Uint8Array,
  off: number,
  i: number,
  pa: bigint,
) => void;

/** Options of {@link BlockChain.incoming}. */
export interface IncomingChainOptions {
  /** Total entries the owner of the chain says it holds (checked when given). */
  expected?: number;
  /** Most blocks accepted. */
  maxBlocks: number;
  /** Claim the blocks (a successor) or only read them (inspection). */
  claim: boolean;
  /** What the chain is, for error messages (default: the layout's name + " chain"). */
  what?: string;
}

/** A chain of blocks, outgoing (built here) or incoming (handed over). */
export class BlockChain {
  /** The chain's geometry. */
  readonly layout: ChainLayout;
  /** Most blocks this chain may have. */
  readonly maxBlocks: number;
  /** Built here to be handed over, or handed over by the predecessor. */
  readonly direction: "outgoing" | "incoming";
  #arena: Arena;
  #blocks: ChainBlock[];
  /** Incoming: whether this chain holds claimed blocks (freed by release). */
  #owned: boolean;

  private constructor(
    arena: Arena,
    layout: ChainLayout,
    maxBlocks: number,
    direction: "outgoing" | "incoming",
    blocks: ChainBlock[],
    owned: boolean,
  ) {
    if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 1) {
      throw new LuoError("EINVAL", `${layout.what} chain: block cap ${maxBlocks} is not valid`);
    }
    this.#arena = arena;
    this.layout = layout;
    this.maxBlocks = maxBlocks;
    this.direction = direction;
    this.#blocks = blocks;
    this.#owned = owned;
  }

  /** An empty outgoing chain; no page is allocated until {@link reserve}. */
  static outgoing(arena: Arena, layout: ChainLayout, maxBlocks: number): BlockChain {
    return new BlockChain(arena, layout, maxBlocks, "outgoing", [], false);
  }

  /**
   * Validates a handed-over chain starting at `head` and, with `claim`,
   * claims its blocks: block addresses inside the arena and page-aligned,
   * no cycle, at most `maxBlocks` blocks, counts in 1..perBlock, the total
   * equal to `expected`; all before any page is claimed. On any failure
   * nothing stays claimed. A `head` of 0 is an empty chain.
   */
  static incoming(
    arena: Arena,
    layout: ChainLayout,
    head: bigint,
    options: IncomingChainOptions,
  ): BlockChain {
    const what = options.what ?? `${layout.what} chain`;
    const blocks = walk(arena, layout, head, options.maxBlocks, what);
    const total = blocks.reduce((a, b) => a + b.count, 0);
    if (options.expected !== undefined && total !== options.expected) {
      throw new CorruptImageError(
        `${what}: ${total} entries in ${blocks.length} blocks, the owner says ${options.expected}`,
        head,
      );
    }
    if (options.claim) claimAll(arena, blocks, layout.blockSize, what);
    return new BlockChain(arena, layout, options.maxBlocks, "incoming", blocks, options.claim);
  }

  /** Physical address of the first block (0n when empty). */
  get head(): bigint {
    return this.#blocks[0]?.pa ?? 0n;
  }

  /** The blocks in chain order (incoming: with their entry counts). */
  get blocks(): readonly ChainBlock[] {
    return this.#blocks;
  }

  /** Entries of an incoming chain (the sum of its block counts). */
  get entries(): number {
    return this.#blocks.reduce((a, b) => a + b.count, 0);
  }

  /** Blocks needed for `entries` entries. */
  blocksFor(entries: number): number {
    return Math.ceil(entries / this.layout.perBlock);
  }

  /** Whether `entries` entries stay within the block cap. */
  fits(entries: number): boolean {
    return this.blocksFor(entries) <= this.maxBlocks;
  }

  #outgoing(op: string): void {
    if (this.direction !== "outgoing") {
      throw new LuoError("EINVAL", `${this.layout.what} chain: ${op} on an incoming chain`);
    }
  }

  /**
   * Grows the chain to hold `entries` entries: `ENOSPC` past the block cap,
   * `ENOMEM` when the arena is full (then the chain is unchanged). New
   * blocks are zero-filled.
   */
  reserve(entries: number): void {
    this.#outgoing("reserve");
    const need = this.blocksFor(entries);
    if (need > this.maxBlocks) {
      throw new LuoError(
        "ENOSPC",
        `${this.layout.what} chain: ${entries} entries need ${need} blocks, over the cap of ${this.maxBlocks}`,
      );
    }
    const before = this.#blocks.length;
    try {
      while (this.#blocks.length < need) {
        const pa = this.#arena.allocPreserve(this.layout.blockSize, { zero: true });
        this.#blocks.push({ pa, count: 0 });
      }
    } catch (e) {
      this.#releaseTo(before);
      throw e;
    }
  }

  /** Releases the blocks not needed for `entries` entries. */
  shrink(entries: number): void {
    this.#outgoing("shrink");
    this.#releaseTo(this.blocksFor(entries));
  }

  #releaseTo(keep: number): void {
    while (this.#blocks.length > keep) this.#arena.unpreserveFree(this.#blocks.pop()!.pa);
  }

  #checkFill(count: number, bytes = Infinity): void {
    this.#outgoing("fill");
    if (this.blocksFor(count) !== this.#blocks.length || bytes < count * this.layout.entrySize) {
      throw new LuoError(
        "EINVAL",
        `${this.layout.what} chain: ${count} entries need ${
          this.blocksFor(count)
        } blocks, the chain has ${this.#blocks.length}`,
      );
    }
  }

  /** Links block `b` to the next and sets its count; returns the offset of its first entry. */
  #link(b: number, count: number): number {
    const { pa } = this.#blocks[b];
    const off = this.#arena.offsetOf(pa, this.layout.blockSize);
    const dv = this.#arena.dataView;
    const n = Math.min(this.layout.perBlock, count - b * this.layout.perBlock);
    dv.setBigUint64(off + BLOCK_HEADER.next, this.#blocks[b + 1]?.pa ?? 0n, true);
    dv.setBigUint64(off + BLOCK_HEADER.count, BigInt(n), true);
    this.#blocks[b] = { pa, count: n };
    return off + BLOCK_HEADER.size;
  }

  /**
   * Writes `count` entries with `write` and links the blocks. The chain must
   * have exactly the blocks `count` needs (reserve/shrink first).
   */
  fill(count: number, write: EntryWriter): void {
    this.#checkFill(count);
    const mem = this.#arena.memory;
    const dv = this.#arena.dataView;
    const { perBlock, entrySize } = this.layout;
    for (let b = 0, i = 0; b < this.#blocks.length; b++) {
      let e = this.#link(b, count);
      for (let k = 0; k < perBlock && i < count; k++, i++, e += entrySize) write(dv, mem, e, i);
    }
  }

  /**
   * Copies `count` entries serialized back to back in `src` into the
   * blocks, one bulk copy per block, and links the blocks.
   */
  fillBytes(count: number, src: Uint8Array): void {
    this.#checkFill(count, src.length);
    const mem = this.#arena.memory;
    const { perBlock, entrySize } = this.layout;
    for (let b = 0; b < this.#blocks.length; b++) {
      const at = this.#link(b, count);
      const first = b * perBlock;
      const n = Math.min(perBlock, count - first);
      mem.set(src.subarray(first * entrySize, (first + n) * entrySize), at);
    }
  }

  /** Zeroes every block header of an outgoing chain: nothing readable is left in it. */
  clear(): void {
    this.#outgoing("clear");
    const dv = this.#arena.dataView;
    for (const [b, { pa }] of this.#blocks.entries()) {
      const off = this.#arena.offsetOf(pa, BLOCK_HEADER.size);
      dv.setBigUint64(off + BLOCK_HEADER.next, 0n, true);
      dv.setBigUint64(off + BLOCK_HEADER.count, 0n, true);
      this.#blocks[b] = { pa, count: 0 };
    }
  }

  /** Frees every block of an outgoing chain. */
  destroy(): void {
    this.#outgoing("destroy");
    this.#releaseTo(0);
  }

  /** Byte offset in the arena of the first entry of block `b`. */
  entryOffset(b: number): number {
    return this.#arena.offsetOf(this.#blocks[b].pa, this.layout.blockSize) + BLOCK_HEADER.size;
  }

  /** Calls `read` for every entry of the chain, in order. */
  forEachEntry(read: EntryReader): void {
    const mem = this.#arena.memory;
    const dv = this.#arena.dataView;
    const { entrySize } = this.layout;
    for (let b = 0, i = 0; b < this.#blocks.length; b++) {
      const { pa, count } = this.#blocks[b];
      const off = this.entryOffset(b);
      for (let k = 0; k < count; k++, i++) {
        const at = BLOCK_HEADER.size + k * entrySize;
        read(dv, mem, off + k * entrySize, i, pa + BigInt(at));
      }
    }
  }

  /** Frees the claimed blocks of an incoming chain (nothing for a read-only one). Idempotent. */
  release(): void {
    if (this.direction !== "incoming") {
      throw new LuoError("EINVAL", `${this.layout.what} chain: release of an outgoing chain`);
    }
    if (!this.#owned) return;
    this.#owned = false;
    for (const { pa } of this.#blocks) this.#arena.free(pa);
  }
}

/** Claims every block (each at least `size` bytes); on a failure frees what it claimed. */
function claimAll(arena: Arena, blocks: ChainBlock[], size: number, what: string): void {
  const claimed: bigint[] = [];
  try {
    for (const { pa } of blocks) {
      arena.claim(pa, size, what);
      claimed.push(pa);
    }
  } catch (e) {
    for (const pa of claimed) arena.free(pa);
    throw e;
  }
}

/** Reads a u64 at a 4-aligned offset as two 32-bit halves (no BigInt unless it is needed). */
function u64At(words: Int32Array, off: number): bigint | number {
  const w = off / 4; // not >>> 2: arenas may be larger than 4 GiB
  const lo = words[w] >>> 0;
  const hi = words[w + 1] >>> 0;
  return hi === 0 ? lo : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Walks a chain without claiming anything, checking every block before it
 * is read: page-aligned, inside the arena, not seen before (cycle), within
 * the cap, count in 1..perBlock. Returns the blocks in order.
 */
function walk(
  arena: Arena,
  layout: ChainLayout,
  head: bigint,
  maxBlocks: number,
  what: string,
): ChainBlock[] {
  const blocks: ChainBlock[] = [];
  let seen: Set<number> | null = null; // block offsets; made at the second block
  const words = arena.words;
  const limit = BigInt(arena.size - layout.blockSize);
  for (let pa = head; pa !== 0n;) {
    const n = blocks.length;
    if (n >= maxBlocks) {
      throw new CorruptImageError(`${what}: more than ${maxBlocks} blocks (the cap)`, pa, "ENOSPC");
    }
    const rel = pa - PHYS_BASE;
    if (rel % BigInt(PAGE_SIZE) !== 0n) {
      throw new CorruptImageError(`${what}: block ${n} is not page-aligned`, pa);
    }
    if (rel < 0n || rel > limit) {
      throw new CorruptImageError(`${what}: block ${n} is outside the arena`, pa);
    }
    const off = Number(rel);
    if (n > 0) {
      seen ??= new Set([Number(blocks[0].pa - PHYS_BASE)]);
      if (seen.has(off)) {
        const first = blocks.findIndex((b) => b.pa === pa);
        throw new CorruptImageError(`${what}: block ${n} links back to block ${first}`, pa);
      }
      seen.add(off);
    }
    const count = u64At(words, off + BLOCK_HEADER.count);
    if (typeof count !== "number" || count === 0 || count > layout.perBlock) {
      throw new CorruptImageError(
        `${what}: block ${n} has count ${count}, want 1..${layout.perBlock}`,
        pa + BigInt(BLOCK_HEADER.count),
      );
    }
    blocks.push({ pa, count });
    pa = BigInt(u64At(words, off + BLOCK_HEADER.next));
  }
  return blocks;
}
