/**
 * `memfd_ser`: the descriptor of a memfd-v1 file and its extent chain,
 * written and read here only.
 *
 * ```
 * memfd_ser  { u64 size; u64 pos; u64 extents_pa; u64 nextents; }   32
 * extent     { u64 pa; u64 npages; }                                16
 * ```
 *
 * `luo_file_ser.data` is the physical address of the descriptor page;
 * extents form a chain of 4096-byte blocks of 255 entries, covering the
 * file's bytes in order.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE, type Region } from "../kho/arena.ts";
import { type BlockChain, type ChainLayout, chainLayout } from "./block.ts";

/** Compatible string of the memfd-v1 format. */
export const MEMFD_V1 = "memfd-v1";

/** `memfd_ser` field offsets. */
export const MEMFD_SER = { size: 32, fileSize: 0, pos: 8, extentsPa: 16, nextents: 24 } as const;

/** One extent `{ u64 pa; u64 npages; }`. */
export const EXTENT = { size: 16, pa: 0, npages: 8 } as const;

/** memfd extent blocks: 4096 bytes, 255 extents each. */
export const EXTENT_CHAIN: ChainLayout = chainLayout("memfd extent", 4096, EXTENT.size);

/** Bytes of a memfd-v1 descriptor block (one page). */
export const MEMFD_DESCRIPTOR_BYTES = PAGE_SIZE;

/** A memfd-v1 descriptor as read back. */
export interface MemfdDescriptor {
  /** File size in bytes. */
  size: number;
  /** File position. */
  pos: number;
  /** Physical address of the first extent block (0 when there are none). */
  extentsPa: bigint;
  /** Number of extents. */
  nextents: number;
}

/** Writes the descriptor at `pa`. */
export function writeMemfdDescriptor(arena: Arena, pa: bigint, d: MemfdDescriptor): void {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, MEMFD_SER.size);
  dv.setBigUint64(off + MEMFD_SER.fileSize, BigInt(d.size), true);
  dv.setBigUint64(off + MEMFD_SER.pos, BigInt(d.pos), true);
  dv.setBigUint64(off + MEMFD_SER.extentsPa, d.extentsPa, true);
  dv.setBigUint64(off + MEMFD_SER.nextents, BigInt(d.nextents), true);
}

/**
 * Reads and validates the descriptor at `pa`: size within the arena,
 * position a safe integer, extents present exactly when there are bytes,
 * no more extents than the arena has pages.
 */
export function readMemfdDescriptor(arena: Arena, pa: bigint): MemfdDescriptor {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, MEMFD_SER.size);
  const size = dv.getBigUint64(off + MEMFD_SER.fileSize, true);
  const pos = dv.getBigUint64(off + MEMFD_SER.pos, true);
  const extentsPa = dv.getBigUint64(off + MEMFD_SER.extentsPa, true);
  const nextents = dv.getBigUint64(off + MEMFD_SER.nextents, true);
  if (size > BigInt(arena.size)) {
    throw new CorruptImageError(`memfd size ${size} is larger than the arena`, pa);
  }
  if (pos > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CorruptImageError(`memfd position ${pos} is too large`, pa + BigInt(MEMFD_SER.pos));
  }
  if (nextents === 0n && (extentsPa !== 0n || size !== 0n)) {
    throw new CorruptImageError(
      `memfd of ${size} bytes has no extents`,
      pa + BigInt(MEMFD_SER.nextents),
    );
  }
  if (nextents > BigInt(arena.size / PAGE_SIZE)) {
    throw new CorruptImageError(`memfd has ${nextents} extents, more than the arena's pages`, pa);
  }
  return { size: Number(size), pos: Number(pos), extentsPa, nextents: Number(nextents) };
}

/** Writes `extents` into an outgoing chain (reserved for them). */
export function writeExtents(chain: BlockChain, extents: readonly Region[]): void {
  chain.fill(extents.length, (dv, _b, o, i) => {
    dv.setBigUint64(o + EXTENT.pa, extents[i].pa, true);
    dv.setBigUint64(o + EXTENT.npages, BigInt(extents[i].pages), true);
  });
}

/**
 * Reads the extents of an incoming chain: every extent of 1.. arena pages,
 * together covering at least `size` bytes.
 */
export function readExtents(arena: Arena, chain: BlockChain, size: number, at: bigint): Region[] {
  const extents: Region[] = [];
  const maxPages = BigInt(arena.size / PAGE_SIZE);
  chain.forEachEntry((dv, _b, o, i, epa) => {
    const pa = dv.getBigUint64(o + EXTENT.pa, true);
    const pages = dv.getBigUint64(o + EXTENT.npages, true);
    if (pages === 0n || pages > maxPages) {
      throw new CorruptImageError(`memfd extent ${i} has ${pages} pages`, epa);
    }
    extents.push({ pa, pages: Number(pages) });
  });
  const capacity = extents.reduce((a, e) => a + e.pages * PAGE_SIZE, 0);
  if (size > capacity) {
    throw new CorruptImageError(`memfd of ${size} bytes has extents of only ${capacity} bytes`, at);
  }
  return extents;
}
