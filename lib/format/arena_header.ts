/**
 * The arena file's header (page 0) and the native preserved-memory map, as
 * laid out by native/ (the arena file layout contract), read here for
 * inspection and fuzzing; native/ is the only writer.
 *
 * ```
 * page 0: char magic[8] "KHOARENA"; u32 version; u32 page_size; u64 size;
 *         u64 phys_base; u64 fdt_pa; u64 mem_map_pa; u64 handovers;
 * map:    4096-byte blocks { u64 next; u64 count; } + { u64 pa; u64 npages; } x 255
 *         (npages 0: a removed entry, a tombstone, that lists nothing)
 * ```
 *
 * @module
 */

import { ARENA_HEADER } from "../kho/physical.ts";
import { type ChainLayout, chainLayout } from "./block.ts";

/** Arena header field offsets (defined beside the arena, in lib/kho/physical.ts). */
export { ARENA_HEADER };

/** The preserved-memory map's blocks: 4096 bytes, 255 regions `{ u64 pa; u64 npages; }` each. */
export const MEM_MAP_CHAIN: ChainLayout = chainLayout("preserved-memory map", 4096, 16);

/** The arena header fields. */
export interface ArenaHeader {
  /** The magic, printable characters only (others as "?"). */
  magic: string;
  version: number;
  pageSize: number;
  size: number;
  physBase: bigint;
  fdtPa: bigint;
  memMapPa: bigint;
  /** Handovers the arena has seen (exact: a u64). */
  handovers: bigint;
}

/** Decodes the header from the first bytes of an arena file (short input reads as zeros). */
export function readArenaHeader(bytes: Uint8Array): ArenaHeader {
  const b = new Uint8Array(ARENA_HEADER.length);
  b.set(bytes.subarray(0, ARENA_HEADER.length));
  const dv = new DataView(b.buffer);
  const H = ARENA_HEADER;
  return {
    magic: new TextDecoder().decode(b.subarray(0, 8)).replace(/[^\x20-\x7e]/g, "?"),
    version: dv.getUint32(H.version, true),
    pageSize: dv.getUint32(H.pageSize, true),
    size: Number(dv.getBigUint64(H.size, true)),
    physBase: dv.getBigUint64(H.physBase, true),
    fdtPa: dv.getBigUint64(H.fdtPa, true),
    memMapPa: dv.getBigUint64(H.memMapPa, true),
    handovers: dv.getBigUint64(H.handovers, true),
  };
}
