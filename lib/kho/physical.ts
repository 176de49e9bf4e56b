/**
 * The arena's physical memory model: pages, physical addresses, and blocks
 * of pages (regions).
 *
 * @module
 */

/** Bytes per page of every arena. */
export const PAGE_SIZE = 4096;
/** Smallest arena: the header page and one more. */
export const MIN_ARENA_BYTES = 2 * PAGE_SIZE;
/** Largest arena: the pages the native allocator indexes (native/buddy.zig `MAX_PAGES`). */
export const MAX_ARENA_BYTES = 2 ** 31 * PAGE_SIZE;
/** Physical address of arena file offset 0 (fixed, non-zero). */
export const PHYS_BASE = 0x1_0000_0000n;
/** Byte written over unpreserved pages in poison mode. */
export const POISON_BYTE = 0xa5;

/**
 * Byte offsets of the arena header's fields in page 0 (SPEC: the arena
 * file layout; native/header.zig writes them): `magic "KHOARENA"`,
 * `u32 version`, `u32 page_size`, `u64 size`, `u64 phys_base`,
 * `u64 fdt_pa`, `u64 mem_map_pa`, `u64 handovers`.
 */
export const ARENA_HEADER = {
  magic: 0,
  version: 8,
  pageSize: 12,
  size: 16,
  physBase: 24,
  fdtPa: 32,
  memMapPa: 40,
  handovers: 48,
  length: 56,
} as const;

/** A block of pages: its physical address and size in pages. */
export interface Region {
  /** Physical address of the first page. */
  pa: bigint;
  /** Number of pages. */
  pages: number;
}

/** Which regions `Arena.regions` lists. */
export type RegionKind = "handed-over" | "preserved" | "allocated";

/** The native `kind` argument of `kho_next_region` for each kind. */
export const REGION_KIND: Record<RegionKind, number> = {
  "handed-over": 0,
  preserved: 1,
  allocated: 2,
};

/** A physical address as `0x...`, for messages. */
export function hex(pa: bigint): string {
  return "0x" + pa.toString(16);
}
