/**
 * Memory in bulk, one native call for many regions: a size as a list of
 * extents taken from the free blocks (`kho_alloc_extents`), and preserve,
 * unpreserve, claim, free or populate of a list of regions
 * (`kho_regions`), each all or nothing. A region list crosses the FFI as
 * `{ u64 pa; u64 npages; }` pairs.
 *
 * @module
 */

import { codeOfNative, CorruptImageError, KhoError } from "../errors.ts";
import { checkInteger } from "./check_integer.ts";
import { checkNative, nativeDetail } from "./native_error.ts";
import { nativeCall, type NativeCaller } from "./native_call.ts";
import { hex, type Region } from "./physical.ts";

/** The operations of `kho_regions` (native/regions.zig `Op`). */
const OP = { preserve: 0, unpreserve: 1, claim: 2, free: 3, populateRead: 4, populateWrite: 5 };

/** Most extents one {@link allocExtents} call returns by default. */
export const DEFAULT_MAX_EXTENTS = 1024;

const count = new Uint32Array(1);
const failed = new Uint32Array(1);

/** The regions as the native pairs (`EINVAL` for a region that is not one). */
function pairsOf(regions: readonly Region[]): BigUint64Array {
  const out = new BigUint64Array(regions.length * 2);
  for (let k = 0; k < regions.length; k++) {
    const { pa, pages } = regions[k];
    if (typeof pa !== "bigint") {
      throw new KhoError("EINVAL", `region address ${String(pa)} (region ${k}) is not a bigint`);
    }
    out[2 * k] = pa;
    out[2 * k + 1] = BigInt(checkInteger(`region pages (region ${k})`, pages, 1, 2 ** 31));
  }
  return out;
}

/**
 * Allocates `size` bytes (an integer, checked by the caller) as at most
 * `maxExtents` extents taken from the free blocks, largest first; returns
 * them in address order. Their pages add up to the size rounded up to a
 * page (the last extent may be rounded up to a block when the extents
 * would run out). `zero`: they read as zero. `ENOMEM`, with nothing
 * allocated, when the free pages or the extents do not suffice.
 */
export function allocExtents(
  arena: NativeCaller,
  size: number,
  flags: number,
  maxExtents: number,
): Region[] {
  const out = new BigUint64Array(maxExtents * 2);
  arena[nativeCall]((native, handle) => {
    const rc = native.kho_alloc_extents(handle, BigInt(size), flags, out, maxExtents, count);
    checkNative(native, rc, () => `alloc_extents of ${size} bytes`);
  });
  return Array.from(
    { length: count[0] },
    (_, k) => ({ pa: out[2 * k], pages: Number(out[2 * k + 1]) }),
  );
}

/** Runs `op` on every region, all or nothing; `what(k)` names the call and region k in the error. */
function apply(
  arena: NativeCaller,
  op: number,
  regions: readonly Region[],
  what: (k: number) => string,
): void {
  if (regions.length === 0) return;
  const pairs = pairsOf(regions);
  arena[nativeCall]((native, handle) => {
    const rc = native.kho_regions(handle, op, pairs, regions.length, failed);
    checkNative(native, rc, () => what(failed[0]));
  });
}

/** Marks every region preserved (each a whole allocated block), or none. */
export function preserveRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.preserve, regions, (k) => `preserve region ${k} (${hex(regions[k].pa)})`);
}

/** Clears the preserved mark of every region, or of none. */
export function unpreserveRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.unpreserve, regions, (k) => `unpreserve region ${k} (${hex(regions[k].pa)})`);
}

/** Frees every region (allocated and not preserved, or handed over), or none. */
export function freeRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.free, regions, (k) => `free region ${k} (${hex(regions[k].pa)})`);
}

/**
 * Populates every region in bulk so that its first touch takes no page
 * fault per page; `write`: for writing.
 */
export function populateRegions(
  arena: NativeCaller,
  regions: readonly Region[],
  write: boolean,
): void {
  apply(arena, write ? OP.populateWrite : OP.populateRead, regions, (k) => `populate region ${k}`);
}

/**
 * Claims every handed-over region, each holding at least its pages, or
 * none: a region that was not handed over, is smaller or is listed twice
 * is damaged data, a {@link CorruptImageError} naming `what`, the
 * region's index and why.
 */
export function claimRegions(arena: NativeCaller, regions: readonly Region[], what: string): void {
  if (regions.length === 0) return;
  const pairs = pairsOf(regions);
  arena[nativeCall]((native, handle) => {
    const rc = native.kho_regions(handle, OP.claim, pairs, regions.length, failed);
    if (rc === 0) return;
    const code = codeOfNative(rc);
    if (code !== "EINVAL" && code !== "ENOENT") checkNative(native, rc, () => `claim of ${what}s`);
    const k = failed[0];
    throw new CorruptImageError(`${what} ${k}: ${nativeDetail(native)} (${code})`, regions[k].pa);
  });
}
