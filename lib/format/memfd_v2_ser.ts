/**
 * memfd-v2: the descriptor of a memory file in 120 bytes, 32 descriptors
 * sharing one preserved page, with the file's seals. Written and read here
 * only.
 *
 * ```
 * descriptor page (4096 bytes)
 *   header   { char magic[8] "MEMFDV2\0"; u32 slots (32); u32 live; u32 bitmap; u32 0; ... } 256
 *   slot i   at 256 + i * 120, i < 32
 * memfd_v2_ser { u64 size; u64 pos; u32 seals; u32 nextents; u64 extents_pa;
 *                { u64 pa; u64 npages; } inline[5]; u64 reserved; }                     120
 * ```
 *
 * `luo_file_ser.data` is the physical address of the descriptor (its slot).
 * `bitmap` has one bit per slot in use and `live` counts them; a page is
 * freed exactly when its last descriptor goes. Up to 5 extents are inline
 * (`extents_pa` 0); more go to an extent chain as in memfd-v1 (inline
 * unused). So a small file's metadata costs 4096 / 32 = 128 bytes.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE, type Region } from "../kho/arena.ts";

/** Compatible string of the memfd-v2 format. */
export const MEMFD_V2 = "memfd-v2";

/** Descriptor page header. */
export const MEMFD_V2_PAGE = {
  header: 256,
  magic: 0,
  slots: 8,
  live: 12,
  bitmap: 16,
  slotCount: 32,
  slotSize: 120,
} as const;

/** The page magic, "MEMFDV2\0" as a little-endian u64. */
export const MEMFD_V2_MAGIC = 0x0032564446_4d454dn;

/** `memfd_v2_ser` field offsets. */
export const MEMFD_V2_SER = {
  size: 0,
  pos: 8,
  seals: 16,
  nextents: 20,
  extentsPa: 24,
  inline: 32,
  inlineCount: 5,
  extent: 16,
} as const;

/**
 * Linux memfd seals (fcntl F_ADD_SEALS), as `MemFile.addSeals` takes them.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile, SEALS } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * using f = MemFile.from(luo.arena, new TextEncoder().encode("config"));
 * f.addSeals(SEALS.write | SEALS.grow | SEALS.shrink | SEALS.seal); // read-only for good
 * console.log(f.seals === 0xf); // true
 * ```
 */
export const SEALS = {
  seal: 0x1,
  shrink: 0x2,
  grow: 0x4,
  write: 0x8,
  futureWrite: 0x10,
} as const;

/** Every seal bit this build knows. */
export const KNOWN_SEALS = 0x1f;

/** Seal bits as names ("shrink,grow"), or "none". */
export function sealNames(seals: number): string {
  const names = Object.entries(SEALS).filter(([, bit]) => seals & bit).map(([n]) => n);
  return names.length ? names.join(",") : "none";
}

/** A memfd-v2 descriptor as written and read. */
export interface MemfdV2Descriptor {
  size: number;
  pos: number;
  seals: number;
  /** The extents when they are inline (at most 5), else empty. */
  inline: readonly Region[];
  /** Number of extents (inline or in the chain). */
  nextents: number;
  /** Physical address of the extent chain (0 when the extents are inline). */
  extentsPa: bigint;
}

/** The page holding the descriptor at `pa` and its slot, or `null` when `pa` is not a slot. */
export function slotOf(pa: bigint): { page: bigint; slot: number } | null {
  if (pa < PHYS_BASE) return null;
  const off = Number((pa - PHYS_BASE) % BigInt(PAGE_SIZE));
  const page = pa - BigInt(off);
  const rel = off - MEMFD_V2_PAGE.header;
  if (rel < 0 || rel % MEMFD_V2_PAGE.slotSize !== 0) return null;
  const slot = rel / MEMFD_V2_PAGE.slotSize;
  return slot < MEMFD_V2_PAGE.slotCount ? { page, slot } : null;
}

/** The physical address of slot `slot` of the descriptor page at `page`. */
export function slotAddress(page: bigint, slot: number): bigint {
  return page + BigInt(MEMFD_V2_PAGE.header + slot * MEMFD_V2_PAGE.slotSize);
}

/** Writes a descriptor page header (`bitmap` of the slots in use). */
export function writePageHeader(arena: Arena, page: bigint, bitmap: number): void {
  const dv = arena.dataView;
  const off = arena.offsetOf(page, MEMFD_V2_PAGE.header);
  dv.setBigUint64(off + MEMFD_V2_PAGE.magic, MEMFD_V2_MAGIC, true);
  dv.setUint32(off + MEMFD_V2_PAGE.slots, MEMFD_V2_PAGE.slotCount, true);
  dv.setUint32(off + MEMFD_V2_PAGE.live, popcount(bitmap), true);
  dv.setUint32(off + MEMFD_V2_PAGE.bitmap, bitmap >>> 0, true);
}

/** Updates the slots in use of a descriptor page whose header is written. */
export function writePageBitmap(arena: Arena, page: bigint, bitmap: number): void {
  const dv = arena.dataView;
  const off = arena.offsetOf(page, MEMFD_V2_PAGE.header);
  dv.setUint32(off + MEMFD_V2_PAGE.live, popcount(bitmap), true);
  dv.setUint32(off + MEMFD_V2_PAGE.bitmap, bitmap >>> 0, true);
}

/** Reads and validates a descriptor page header; returns its bitmap of slots in use. */
export function readPageHeader(arena: Arena, page: bigint): number {
  const dv = arena.dataView;
  const off = arena.offsetOf(page, MEMFD_V2_PAGE.header);
  const magic = dv.getBigUint64(off + MEMFD_V2_PAGE.magic, true);
  if (magic !== MEMFD_V2_MAGIC) {
    throw new CorruptImageError(
      `memfd-v2 descriptor page: bad magic 0x${magic.toString(16)}`,
      page,
    );
  }
  const slots = dv.getUint32(off + MEMFD_V2_PAGE.slots, true);
  const live = dv.getUint32(off + MEMFD_V2_PAGE.live, true);
  const bitmap = dv.getUint32(off + MEMFD_V2_PAGE.bitmap, true);
  if (slots !== MEMFD_V2_PAGE.slotCount || live === 0 || live !== popcount(bitmap)) {
    throw new CorruptImageError(
      `memfd-v2 descriptor page: ${slots} slots, ${live} live, bitmap 0x${bitmap.toString(16)}`,
      page,
    );
  }
  return bitmap;
}

/** Writes a u64 given as a safe integer (two 32-bit halves: no BigInt). */
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

/** Writes the descriptor at `pa` (inline extents when there are at most 5). */
export function writeMemfdV2(arena: Arena, pa: bigint, d: MemfdV2Descriptor): void {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, MEMFD_V2_PAGE.slotSize);
  setU64(dv, off + MEMFD_V2_SER.size, d.size);
  setU64(dv, off + MEMFD_V2_SER.pos, d.pos);
  dv.setUint32(off + MEMFD_V2_SER.seals, d.seals, true);
  dv.setUint32(off + MEMFD_V2_SER.nextents, d.nextents, true);
  dv.setBigUint64(off + MEMFD_V2_SER.extentsPa, d.extentsPa, true);
  let at = off + MEMFD_V2_SER.inline;
  for (const e of d.inline) {
    dv.setBigUint64(at, e.pa, true);
    setU64(dv, at + 8, e.pages);
    at += MEMFD_V2_SER.extent;
  }
  // The inline extents not used, and the reserved word.
  arena.memory.fill(0, at, off + MEMFD_V2_PAGE.slotSize);
}

/**
 * Reads and validates the descriptor at `pa`: size within the arena, a
 * safe position, only known seal bits (`EPROTO` for unknown ones), extents
 * present exactly when there are bytes, inline ones of 1.. arena pages.
 */
export function readMemfdV2(arena: Arena, pa: bigint): MemfdV2Descriptor {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, MEMFD_V2_PAGE.slotSize);
  const size = dv.getBigUint64(off + MEMFD_V2_SER.size, true);
  const pos = dv.getBigUint64(off + MEMFD_V2_SER.pos, true);
  const seals = dv.getUint32(off + MEMFD_V2_SER.seals, true);
  const nextents = dv.getUint32(off + MEMFD_V2_SER.nextents, true);
  const extentsPa = dv.getBigUint64(off + MEMFD_V2_SER.extentsPa, true);
  const bad = (msg: string, field = 0): never => {
    throw new CorruptImageError(`memfd-v2 descriptor: ${msg}`, pa + BigInt(field));
  };
  if (size > BigInt(arena.size)) bad(`size ${size} is larger than the arena`);
  if (pos > BigInt(Number.MAX_SAFE_INTEGER)) bad(`position ${pos} is too large`, MEMFD_V2_SER.pos);
  if (seals & ~KNOWN_SEALS) {
    throw new CorruptImageError(
      `memfd-v2 descriptor: unknown seal bits 0x${((seals & ~KNOWN_SEALS) >>> 0).toString(16)}`,
      pa + BigInt(MEMFD_V2_SER.seals),
      "EPROTO",
    );
  }
  if ((nextents === 0) !== (size === 0n)) {
    bad(`${size} bytes in ${nextents} extents`, MEMFD_V2_SER.nextents);
  }
  if (nextents > arena.size / PAGE_SIZE) bad(`${nextents} extents, more than the arena's pages`);
  const chained = nextents > MEMFD_V2_SER.inlineCount;
  if (chained !== (extentsPa !== 0n)) {
    bad(`${nextents} extents with extents_pa 0x${extentsPa.toString(16)}`);
  }
  const inline: Region[] = [];
  for (let i = 0; !chained && i < nextents; i++) {
    const at = off + MEMFD_V2_SER.inline + i * MEMFD_V2_SER.extent;
    const pages = dv.getBigUint64(at + 8, true);
    if (pages === 0n || pages > BigInt(arena.size / PAGE_SIZE)) {
      bad(`extent ${i} has ${pages} pages`);
    }
    inline.push({ pa: dv.getBigUint64(at, true), pages: Number(pages) });
  }
  return { size: Number(size), pos: Number(pos), seals, inline, nextents, extentsPa };
}

/** Number of bits set in a 32-bit word. */
export function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}
