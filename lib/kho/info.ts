/**
 * The native `Info` struct (native/arena.zig): page accounting and header
 * state, decoded field by field; its size is checked against the library's
 * `kho_info_size` when the library is first used.
 *
 * @module
 */

import { KhoError } from "../errors.ts";
import type { Native } from "./symbols.ts";

/**
 * Page accounting and header state of an open arena.
 *
 * @example
 * ```ts
 * import { Arena, type ArenaInfo } from "@luo/live-update/kho";
 * const percentUsed = (i: ArenaInfo) => Math.round(100 * (1 - i.freePages / i.pages));
 * using arena = Arena.create({ size: 1 << 20 });
 * arena.allocPreserve(64 * 1024);
 * const info = arena.info();
 * console.log(info.pages, info.preservedPages, percentUsed(info)); // 256 16 7
 * ```
 */
export interface ArenaInfo {
  /** Arena size in bytes. */
  size: number;
  /** Physical address of offset 0. */
  physBase: bigint;
  /** Page size in bytes. */
  pageSize: number;
  /** Total pages, including the header page. */
  pages: number;
  /** Pages on the free lists. */
  freePages: number;
  /** Pages owned by this process (preserved or not). */
  allocatedPages: number;
  /** Pages marked preserved. */
  preservedPages: number;
  /** Blocks marked preserved. */
  preservedBlocks: number;
  /** Pages handed over by the predecessor and not restored yet. */
  handedOverPages: number;
  /** Blocks handed over by the predecessor and not restored yet. */
  handedOverBlocks: number;
  /** Allocations made since open. */
  allocations: number;
  /** Root FDT the predecessor published (0n: nothing handed over). */
  incomingRoot: bigint;
  /** Handovers this arena file has seen (exact: the header's u64). */
  handovers: bigint;
  /**
   * Pages freed while they are listed in the published image (the
   * predecessor's, or this process's own last handover): parked, not
   * reusable, until that image is superseded or discarded, so that a
   * crash before then leaves it intact.
   */
  deferredPages: number;
  /** Pages zero-filled by `zero` allocations (pages never handed out need none). */
  zeroedPages: number;
}

/** The native struct's fields in their order, u64 each; `flags` is read but not exposed. */
const INFO_FIELDS = [
  "size",
  "physBase",
  "pageSize",
  "pages",
  "freePages",
  "allocatedPages",
  "preservedPages",
  "preservedBlocks",
  "handedOverPages",
  "handedOverBlocks",
  "allocations",
  "incomingRoot",
  "handovers",
  "flags",
  "deferredPages",
  "zeroedPages",
] as const;
const AS_BIGINT = new Set<string>(["physBase", "incomingRoot", "handovers"]);

/** Bytes of the native struct this module decodes. */
export const INFO_BYTES = INFO_FIELDS.length * 8;

/** Decodes the native struct from its u64 words. */
export function decodeInfo(words: BigUint64Array): ArenaInfo {
  const info: Record<string, number | bigint> = {};
  INFO_FIELDS.forEach((name, i) => {
    if (name !== "flags") info[name] = AS_BIGINT.has(name) ? words[i] : Number(words[i]);
  });
  return info as unknown as ArenaInfo;
}

const checked = new WeakSet<Native>();

/** Refuses a library whose `Info` struct is not the one decoded here (once per library). */
export function checkInfoSize(native: Native, path: string): void {
  if (checked.has(native)) return;
  const size = Number(native.kho_info_size());
  if (size !== INFO_BYTES) {
    throw new KhoError(
      "EPROTO",
      `native library ${path}: its arena info has ${size} bytes, this module reads ${INFO_BYTES}: rebuild it`,
    );
  }
  checked.add(native);
}
