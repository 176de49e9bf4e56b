/**
 * `luo_flb_ser`: one handed-over file-lifecycle-bound object (FLB), 64
 * bytes, written and read here only.
 *
 * ```
 * luo_flb_ser   { char compatible[48]; u64 data; u64 count; }   64
 * ```
 *
 * `data` is the FLB's own u64 (as its `preserve` returned it), `count` the
 * number of handed-over files that use it. FLB entries are chained in
 * 8192-byte blocks of 127 entries; the LUO FDT's node `luo-flb` points at
 * the first block (the node exists only when there are FLBs).
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import type { BlockChain, ChainLayout } from "./block.ts";
import { chainLayout } from "./block.ts";
import { readCString } from "./c_string.ts";
import { COMPATIBLE_LEN } from "./compatible.ts";

/** `luo_flb_ser` field offsets and sizes. */
export const FLB_SER = {
  size: 64,
  compatible: 0,
  compatibleLen: COMPATIBLE_LEN,
  data: 48,
  count: 56,
} as const;

/** FLB blocks: 8192 bytes, 127 entries each. */
export const FLB_CHAIN: ChainLayout = chainLayout("flb", 8192, FLB_SER.size);

/** One FLB entry. */
export interface FlbEntry {
  /** The FLB's compatible string. */
  compatible: string;
  /** Its `data`. */
  data: bigint;
  /** Handed-over files that use it. */
  count: number;
}

/** Writes `entries` into an outgoing chain reserved for them (fields from `compatibleField`). */
export function writeFlbEntries(
  chain: BlockChain,
  entries: readonly { field: Uint8Array; data: bigint; count: number }[],
): void {
  chain.fill(entries.length, (dv, bytes, off, i) => {
    const e = entries[i];
    bytes.set(e.field, off + FLB_SER.compatible);
    dv.setBigUint64(off + FLB_SER.data, e.data, true);
    dv.setBigUint64(off + FLB_SER.count, BigInt(e.count), true);
  });
}

/**
 * Reads the entries of an incoming FLB chain: compatible NUL-terminated
 * UTF-8 and unique, count of 1..`maxCount` files.
 */
export function readFlbEntries(chain: BlockChain, maxCount: number): FlbEntry[] {
  const out: FlbEntry[] = [];
  const seen = new Set<string>();
  chain.forEachEntry((dv, bytes, off, i, pa) => {
    const compatible = readCString(bytes, off + FLB_SER.compatible, FLB_SER.compatibleLen);
    if (!compatible) {
      throw new CorruptImageError(
        `flb ${i}: compatible has no NUL within 48 bytes or is empty`,
        pa,
      );
    }
    if (seen.has(compatible)) {
      throw new CorruptImageError(`flb ${i}: duplicate "${compatible}"`, pa);
    }
    seen.add(compatible);
    const count = dv.getBigUint64(off + FLB_SER.count, true);
    if (count === 0n || count > BigInt(maxCount)) {
      throw new CorruptImageError(
        `flb "${compatible}": count ${count}, want 1..${maxCount}`,
        pa + BigInt(FLB_SER.count),
      );
    }
    out.push({ compatible, data: dv.getBigUint64(off + FLB_SER.data, true), count: Number(count) });
  });
  return out;
}
