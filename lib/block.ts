/**
 * One generic chain of linked serialization blocks, used by sessions, file
 * sets and memfd extents alike (block and entry size are parameters).
 *
 * Every block starts with `{ u64 next; u64 count; }`; `next` is the physical
 * address of the next block (0 ends the chain), `count` the entries that
 * follow in this block, never 0.
 *
 * Outgoing: {@link BlockChain.reserve} grows the chain as entries are added,
 * so that {@link BlockChain.fill} at handover never allocates;
 * {@link BlockChain.shrink} releases blocks whose last entries went away.
 * Incoming: {@link BlockChain.restore} validates a handed-over chain (cycle
 * check first, cap, per-block counts, total) before it claims any page.
 *
 * @module
 */

import { BLOCK_HEADER, type ChainLayout } from "./abi.ts";
import { CorruptImageError, LiveUpdateError, LuoError } from "./errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "./kho.ts";

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

/** One block of a handed-over chain: its address and entry count. */
export interface ChainBlock {
  pa: bigint;
  count: number;
}

/** A chain of blocks owned by this process. */
export class BlockChain {
  readonly layout: ChainLayout;
  readonly maxBlocks: number;
  #arena: Arena;
  #blocks: bigint[] = [];

  /** An empty chain; no page is allocated until {@link reserve}. */
  constructor(arena: Arena, layout: ChainLayout, maxBlocks: number) {
    if (layout.blockSize % PAGE_SIZE || layout.perBlock < 1) {
      throw new LuoError("EINVAL", `chain layout of ${layout.what}: bad block or entry size`);
    }
    this.#arena = arena;
    this.layout = layout;
    this.maxBlocks = maxBlocks;
  }

  /** Physical address of the first block (0n when empty). */
  get head(): bigint {
    return this.#blocks[0] ?? 0n;
  }

  /** Number of blocks. */
  get blocks(): number {
    return this.#blocks.length;
  }

  /** Physical addresses of the blocks, in chain order. */
  get blockAddresses(): readonly bigint[] {
    return this.#blocks;
  }

  /** Blocks needed for `entries` entries. */
  blocksFor(entries: number): number {
    return Math.ceil(entries / this.layout.perBlock);
  }

  /** Whether `entries` entries stay within the block cap. */
  fits(entries: number): boolean {
    return this.blocksFor(entries) <= this.maxBlocks;
  }

  /**
   * Grows the chain to hold `entries` entries: `ENOSPC` past the block cap,
   * `ENOMEM` when the arena is full (then the chain is unchanged).
   */
  reserve(entries: number): void {
    const need = this.blocksFor(entries);
    if (need > this.maxBlocks) {
      throw new LuoError(
        "ENOSPC",
        `${this.layout.what} chain: ${entries} entries need ${need} blocks, over the cap of ${this.maxBlocks}`,
      );
    }
    const before = this.#blocks.length;
    try {
      const dv = this.#arena.dataView;
      while (this.#blocks.length < need) {
        const pa = this.#arena.allocPreserve(this.layout.blockSize);
        this.#blocks.push(pa);
        // An empty header; and every page of the block is faulted in now,
        // at preserve time, rather than during the handover.
        const off = this.#arena.offsetOf(pa, this.layout.blockSize);
        for (let p = PAGE_SIZE; p < this.layout.blockSize; p += PAGE_SIZE) dv.setUint8(off + p, 0);
        dv.setBigUint64(off + BLOCK_HEADER.next, 0n, true);
        dv.setBigUint64(off + BLOCK_HEADER.count, 0n, true);
      }
    } catch (e) {
      this.#release(before);
      throw e;
    }
  }

  /** Releases the blocks not needed for `entries` entries. */
  shrink(entries: number): void {
    this.#release(this.blocksFor(entries));
  }

  #release(keep: number): void {
    while (this.#blocks.length > keep) this.#arena.unpreserveFree(this.#blocks.pop()!);
  }

  /**
   * Writes `count` entries (count must fit the reserved blocks) and links the
   * blocks. Blocks beyond what `count` needs must have been shrunk away.
   */
  fill(count: number, write: EntryWriter): void {
    const { perBlock, entrySize } = this.layout;
    if (this.blocksFor(count) !== this.#blocks.length) {
      throw new LuoError(
        "EINVAL",
        `${this.layout.what} chain: ${count} entries need ${
          this.blocksFor(count)
        } blocks, chain has ${this.#blocks.length}`,
      );
    }
    const mem = this.#arena.memory;
    const dv = this.#arena.dataView;
    let i = 0;
    for (let b = 0; b < this.#blocks.length; b++) {
      const off = this.#arena.offsetOf(this.#blocks[b], this.layout.blockSize);
      const n = Math.min(perBlock, count - i);
      dv.setBigUint64(off + BLOCK_HEADER.next, this.#blocks[b + 1] ?? 0n, true);
      dv.setBigUint64(off + BLOCK_HEADER.count, BigInt(n), true);
      let e = off + BLOCK_HEADER.size;
      for (let k = 0; k < n; k++, i++, e += entrySize) write(dv, mem, e, i);
    }
  }

  /**
   * Copies `count` serialized entries from `src` (laid out back to back)
   * into the blocks, one bulk copy per block, and links the blocks.
   */
  fillBytes(count: number, src: Uint8Array): void {
    const { perBlock, entrySize } = this.layout;
    if (this.blocksFor(count) !== this.#blocks.length || src.length < count * entrySize) {
      throw new LuoError(
        "EINVAL",
        `${this.layout.what} chain: ${count} entries do not match ${this.#blocks.length} blocks`,
      );
    }
    const mem = this.#arena.memory;
    const dv = this.#arena.dataView;
    for (let b = 0, i = 0; b < this.#blocks.length; b++, i += perBlock) {
      const off = this.#arena.offsetOf(this.#blocks[b], this.layout.blockSize);
      const n = Math.min(perBlock, count - i);
      dv.setBigUint64(off + BLOCK_HEADER.next, this.#blocks[b + 1] ?? 0n, true);
      dv.setBigUint64(off + BLOCK_HEADER.count, BigInt(n), true);
      mem.set(src.subarray(i * entrySize, (i + n) * entrySize), off + BLOCK_HEADER.size);
    }
  }

  /** Zeroes every block header: nothing readable is left in the chain. */
  clear(): void {
    const dv = this.#arena.dataView;
    for (const pa of this.#blocks) {
      const off = this.#arena.offsetOf(pa, BLOCK_HEADER.size);
      dv.setBigUint64(off + BLOCK_HEADER.next, 0n, true);
      dv.setBigUint64(off + BLOCK_HEADER.count, 0n, true);
    }
  }

  /** Frees every block. */
  destroy(): void {
    this.#release(0);
  }

  /**
   * Validates and claims a handed-over chain, reads every entry with
   * `read`, then frees the chain's blocks. Checks, before any page is
   * claimed: block addresses inside the arena and page-aligned, no cycle,
   * at most `maxBlocks` blocks, counts in 1..perBlock, the total equal to
   * `expected`. Returns the blocks with their counts.
   *
   * With `claim: false` (read-only inspection) nothing is claimed or freed.
   */
  static restore(
    arena: Arena,
    layout: ChainLayout,
    first: bigint,
    options: { expected?: number; maxBlocks: number; claim: boolean; what?: string },
    read: EntryReader,
  ): ChainBlock[] {
    const blocks = BlockChain.claimChain(arena, layout, first, options);
    try {
      const mem = arena.memory;
      const dv = arena.dataView;
      let i = 0;
      for (const { pa, count } of blocks) {
        const off = arena.offsetOf(pa, layout.blockSize);
        for (let k = 0; k < count; k++, i++) {
          const e = off + BLOCK_HEADER.size + k * layout.entrySize;
          read(dv, mem, e, i, pa + BigInt(BLOCK_HEADER.size + k * layout.entrySize));
        }
      }
    } finally {
      if (options.claim) { for (const { pa } of blocks) arena.free(pa); }
    }
    return blocks;
  }

  /**
   * Validates a handed-over chain like {@link BlockChain.restore} and, with
   * `claim`, claims its blocks and leaves them to the caller (who frees them
   * with `arena.free`). On any failure nothing stays claimed.
   */
  static claimChain(
    arena: Arena,
    layout: ChainLayout,
    first: bigint,
    options: { expected?: number; maxBlocks: number; claim: boolean; what?: string },
  ): ChainBlock[] {
    const what = options.what ?? `${layout.what} chain`;
    const blocks = BlockChain.walk(arena, layout, first, options.maxBlocks, what);
    const total = blocks.reduce((a, b) => a + b.count, 0);
    if (options.expected !== undefined && total !== options.expected) {
      throw new CorruptImageError(
        `${what}: ${total} entries in ${blocks.length} blocks, the owner says ${options.expected}`,
        first,
      );
    }
    if (!options.claim) return blocks;
    const claimed: bigint[] = [];
    try {
      for (const { pa } of blocks) {
        claimBlock(arena, pa, layout.blockSize, what);
        claimed.push(pa);
      }
    } catch (e) {
      for (const pa of claimed) arena.free(pa);
      throw e;
    }
    return blocks;
  }

  /**
   * Walks a chain without claiming anything: every check of
   * {@link BlockChain.restore} except the total. Returns the blocks.
   */
  static walk(
    arena: Arena,
    layout: ChainLayout,
    first: bigint,
    maxBlocks: number,
    what: string,
  ): ChainBlock[] {
    const blocks: ChainBlock[] = [];
    let seen: Set<number> | null = null; // block offsets; made at the second block
    const words = arena.words;
    const limit = BigInt(arena.size - layout.blockSize);
    const page = BigInt(PAGE_SIZE);
    for (let pa = first; pa !== 0n;) {
      if (blocks.length >= maxBlocks) {
        throw new CorruptImageError(
          `${what}: more than ${maxBlocks} blocks (the cap)`,
          pa,
          "ENOSPC",
        );
      }
      const rel = pa - PHYS_BASE;
      if (rel % page !== 0n) {
        throw new CorruptImageError(`${what}: block ${blocks.length} is not page-aligned`, pa);
      }
      if (rel < 0n || rel > limit) {
        throw new CorruptImageError(`${what}: block ${blocks.length} is outside the arena`, pa);
      }
      const off = Number(rel);
      if (blocks.length > 0) {
        seen ??= new Set([Number(blocks[0].pa - PHYS_BASE)]);
        if (seen.has(off)) {
          throw new CorruptImageError(
            `${what}: cycle back to block ${blocks.findIndex((b) => b.pa === pa)}`,
            pa,
          );
        }
        seen.add(off);
      }
      // count and next as 32-bit halves: no BigInt unless it is needed.
      const c = (off + BLOCK_HEADER.count) >>> 2;
      const countLo = words[c] >>> 0;
      const countHi = words[c + 1] >>> 0;
      if (countHi !== 0 || countLo === 0 || countLo > layout.perBlock) {
        const count = (BigInt(countHi) << 32n) | BigInt(countLo);
        throw new CorruptImageError(
          `${what}: block ${blocks.length} has count ${count}, want 1..${layout.perBlock}`,
          pa + BigInt(BLOCK_HEADER.count),
        );
      }
      blocks.push({ pa, count: countLo });
      const n = (off + BLOCK_HEADER.next) >>> 2;
      const nextLo = words[n] >>> 0;
      const nextHi = words[n + 1] >>> 0;
      pa = nextLo === 0 && nextHi === 0 ? 0n : (BigInt(nextHi) << 32n) | BigInt(nextLo);
    }
    return blocks;
  }
}

/**
 * Claims a handed-over block of `size` bytes at `pa`, as a typed
 * {@link CorruptImageError} when it was not handed over or has another size.
 */
export function claimBlock(arena: Arena, pa: bigint, size: number, what: string): void {
  let pages: number;
  try {
    pages = arena.restore(pa);
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) throw e;
    throw new CorruptImageError(`${what}: block was not handed over (${e.code})`, pa);
  }
  if (pages * PAGE_SIZE !== Math.max(PAGE_SIZE, size)) {
    arena.free(pa);
    throw new CorruptImageError(
      `${what}: handed-over block has ${pages} pages, want ${size / PAGE_SIZE}`,
      pa,
    );
  }
}
