/**
 * `value_ser`: the descriptor of a value-v1 file, written and read here
 * only.
 *
 * ```
 * value_ser  { u64 length; u64 data_pa; u64 npages; u64 version; }   32
 * ```
 *
 * `luo_file_ser.data` is the physical address of the descriptor page;
 * `data_pa` holds `length` bytes of the `node:v8` serializer's output in a
 * block of `npages` pages; `version` is the wire version of those bytes.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE } from "../kho/arena.ts";

/** Compatible string of the value-v1 format. */
export const VALUE_V1 = "value-v1";

/** `value_ser` field offsets. */
export const VALUE_SER = { size: 32, length: 0, dataPa: 8, npages: 16, version: 24 } as const;

/** Version of the v8 wire format this build writes (checked by readers). */
export const VALUE_WIRE = 1n;

/** A value-v1 descriptor. */
export interface ValueDescriptor {
  /** Bytes of serialized data. */
  length: number;
  /** Physical address of the data block. */
  dataPa: bigint;
  /** Pages of the data block. */
  pages: number;
}

/** Writes the descriptor at `pa` (with the current wire version). */
export function writeValueDescriptor(arena: Arena, pa: bigint, d: ValueDescriptor): void {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, VALUE_SER.size);
  dv.setBigUint64(off + VALUE_SER.length, BigInt(d.length), true);
  dv.setBigUint64(off + VALUE_SER.dataPa, d.dataPa, true);
  dv.setBigUint64(off + VALUE_SER.npages, BigInt(d.pages), true);
  dv.setBigUint64(off + VALUE_SER.version, VALUE_WIRE, true);
}

/** Zeroes the descriptor at `pa` (nothing readable is left). */
export function clearValueDescriptor(arena: Arena, pa: bigint): void {
  arena.bytes(pa, VALUE_SER.size).fill(0);
}

/**
 * Reads and validates the descriptor at `pa`: the wire version this build
 * reads (`EPROTO` otherwise), a length of 1..`npages` pages.
 */
export function readValueDescriptor(arena: Arena, pa: bigint): ValueDescriptor {
  const dv = arena.dataView;
  const off = arena.offsetOf(pa, VALUE_SER.size);
  const length = dv.getBigUint64(off + VALUE_SER.length, true);
  const dataPa = dv.getBigUint64(off + VALUE_SER.dataPa, true);
  const npages = dv.getBigUint64(off + VALUE_SER.npages, true);
  const version = dv.getBigUint64(off + VALUE_SER.version, true);
  if (version !== VALUE_WIRE) {
    throw new CorruptImageError(
      `value: wire version ${version}, this build reads ${VALUE_WIRE}`,
      pa + BigInt(VALUE_SER.version),
      "EPROTO",
    );
  }
  const maxPages = BigInt(arena.size / PAGE_SIZE);
  if (length === 0n || npages === 0n || npages > maxPages || length > npages * BigInt(PAGE_SIZE)) {
    throw new CorruptImageError(
      `value: ${length} bytes in ${npages} pages is not a valid descriptor`,
      pa,
    );
  }
  return { length: Number(length), dataPa, pages: Number(npages) };
}
