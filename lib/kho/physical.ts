/**
 * The arena's physical memory model: pages, physical addresses, and blocks
 * of pages (regions).
 *
 * @module
 */

/**
 * Bytes per page of every arena: blocks are whole pages.
 *
 * @example
 * ```ts
 * import { Arena, PAGE_SIZE } from "@luo/live-update/kho";
 * using arena = Arena.create({ size: 1 << 20 });
 * console.log(arena.size / PAGE_SIZE, arena.allocRegion(1).pages); // 256 1
 * ```
 */
export const PAGE_SIZE = 4096;
/** Smallest arena: the header page and one more. */
export const MIN_ARENA_BYTES = 2 * PAGE_SIZE;
/** Largest arena: the pages the native allocator indexes (native/buddy.zig `MAX_PAGES`). */
export const MAX_ARENA_BYTES = 2 ** 31 * PAGE_SIZE;
/**
 * Physical address of arena file offset 0 (fixed, non-zero, so that `0n`
 * means "no block").
 *
 * @example
 * ```ts
 * import { Arena, PHYS_BASE } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * const arena = Arena.create({ path: `${dir}/service.arena`, size: 1 << 20 });
 * const pa = arena.alloc(4096);
 * arena.bytes(pa, 2).set([4, 2]);
 * arena.close();
 * // A block's bytes are in the file at its address minus PHYS_BASE.
 * const offset = Number(pa - PHYS_BASE);
 * const file = Deno.readFileSync(arena.path);
 * console.log(file.subarray(offset, offset + 2)); // Uint8Array(2) [ 4, 2 ]
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const PHYS_BASE = 0x1_0000_0000n;
/**
 * Byte written in poison mode (option `poison`) over freed pages, and at
 * open over every page not handed over: a stale read shows.
 *
 * @example
 * ```ts
 * import { Arena, PAGE_SIZE, POISON_BYTE } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * let forgotten: bigint;
 * {
 *   using old = Arena.create({ path, size: 1 << 20 });
 *   forgotten = old.alloc(PAGE_SIZE); // never preserved
 *   old.bytes(forgotten, 1)[0] = 1;
 *   old.handover(old.allocPreserve(PAGE_SIZE));
 * }
 * const next = Arena.open(path, { poison: true });
 * console.log(next.bytes(forgotten, 1)[0] === POISON_BYTE); // true, not the stale 1
 * next.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
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

/**
 * A block of pages: its physical address and size in pages.
 *
 * @example
 * ```ts
 * import { Arena, PAGE_SIZE, type Region } from "@luo/live-update/kho";
 * const bytesOf = (r: Region) => r.pages * PAGE_SIZE;
 * using arena = Arena.create({ size: 1 << 20 });
 * console.log(bytesOf(arena.allocRegion(5000))); // 8192: two pages
 * const extents: Region[] = arena.allocExtents(5 * PAGE_SIZE);
 * console.log(extents.map(bytesOf)); // [ 16384, 4096 ]
 * ```
 */
export interface Region {
  /** Physical address of the first page. */
  pa: bigint;
  /** Number of pages. */
  pages: number;
}

/**
 * Which regions `Arena.regions` lists: blocks the predecessor handed over
 * and this process has not claimed, blocks marked preserved, or every
 * block this process allocated.
 *
 * @example
 * ```ts
 * import { Arena, type RegionKind } from "@luo/live-update/kho";
 * using arena = Arena.create({ size: 1 << 20 });
 * arena.allocPreserve(4096);
 * arena.alloc(8192);
 * const kinds: RegionKind[] = ["handed-over", "preserved", "allocated"];
 * console.log(kinds.map((kind) => [...arena.regions(kind)].length)); // [ 0, 1, 2 ]
 * ```
 */
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
