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
import type { Native } from "./symbols.ts";

/** The operations of `kho_regions` (native/regions.zig `Op`). */
const OP = { preserve: 0, unpreserve: 1, claim: 2, free: 3, populateRead: 4, populateWrite: 5 };

/** Most extents one {@link allocExtents} call returns by default. */
export const DEFAULT_MAX_EXTENTS = 1024;

const count = new Uint32Array(1);
/** Room for the extents of one allocation of at most DEFAULT_MAX_EXTENTS (read at once). */
const EXTENTS = new BigUint64Array(DEFAULT_MAX_EXTENTS * 2);
const failed = new Uint32Array(1);

/** Most pages of a region (of any block: the allocator indexes 2^31 pages). */
const MAX_PAGES = 2 ** 31;

/** Room for the pairs of a few regions: most lists are short (one extent). */
const SCRATCH = new BigUint64Array(32);
/** The same room as 32-bit words: page counts are written without a BigInt. */
const SCRATCH_WORDS = new Uint32Array(SCRATCH.buffer);

/**
 * The regions as the native pairs (`EINVAL` for a region that is not
 * one), in {@link SCRATCH} when they fit: a native call reads them at once.
 */
function pairsOf(regions: readonly Region[]): BigUint64Array {
  const small = regions.length * 2 <= SCRATCH.length;
  const out = small ? SCRATCH : new BigUint64Array(regions.length * 2);
  const words = small ? SCRATCH_WORDS : new Uint32Array(out.buffer);
  for (let k = 0; k < regions.length; k++) {
    const { pa, pages } = regions[k];
    if (typeof pa !== "bigint") {
      throw new KhoError("EINVAL", `region address ${String(pa)} (region ${k}) is not a bigint`);
    }
    if (!Number.isInteger(pages) || pages < 1 || pages > MAX_PAGES) {
      checkInteger(`region pages (region ${k})`, pages, 1, MAX_PAGES); // throws, naming it
    }
    out[2 * k] = pa;
    words[4 * k + 2] = pages; // the low half of npages (a little-endian host)
    words[4 * k + 3] = 0;
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
  const out = maxExtents <= DEFAULT_MAX_EXTENTS ? EXTENTS : new BigUint64Array(maxExtents * 2);
  const { native, handle } = arena[nativeCall]();
  const rc = native.kho_alloc_extents(handle, BigInt(size), flags, out, maxExtents, count);
  checkNative(native, rc, () => `alloc_extents of ${size} bytes`);
  return regionsOut(out);
}

/**
 * Keeps the first `pages` pages of the allocated block at `pa` and frees
 * the rest; returns the blocks kept, as the native layer split them.
 */
export function trimBlock(arena: NativeCaller, pa: bigint, pages: number): Region[] {
  const { native, handle } = arena[nativeCall]();
  const rc = native.kho_trim(handle, pa, BigInt(pages), EXTENTS, DEFAULT_MAX_EXTENTS, count);
  checkNative(native, rc, () => `trim ${hex(pa)} to ${pages} pages`);
  return regionsOut(EXTENTS);
}

/** The `count[0]` `{ pa, npages }` pairs the native layer wrote to `out`. */
function regionsOut(out: BigUint64Array): Region[] {
  const regions: Region[] = [];
  for (let k = 0; k < count[0]; k++) {
    regions.push({ pa: out[2 * k], pages: Number(out[2 * k + 1]) });
  }
  return regions;
}

/** The names of the operations, for messages. */
const OP_NAME = ["preserve", "unpreserve", "claim", "free", "populate", "populate"];

/**
 * Runs `op` on every region, all or nothing; returns the native return
 * code (0, or the failure of region `failed[0]`). Allocates nothing for a
 * short list.
 */
function run(native: Native, handle: number, op: number, regions: readonly Region[]): number {
  if (regions.length === 0) return 0;
  return native.kho_regions(handle, op, pairsOf(regions), regions.length, failed);
}

/** `run`, a failure thrown as the typed error naming the operation and the region. */
function apply(arena: NativeCaller, op: number, regions: readonly Region[]): void {
  const { native, handle } = arena[nativeCall]();
  const rc = run(native, handle, op, regions);
  if (rc === 0) return;
  const k = failed[0];
  checkNative(native, rc, () => `${OP_NAME[op]} region ${k} (${hex(regions[k].pa)})`);
}

/** Marks every region preserved (each a whole allocated block), or none. */
export function preserveRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.preserve, regions);
}

/** Clears the preserved mark of every region, or of none. */
export function unpreserveRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.unpreserve, regions);
}

/** Frees every region (allocated and not preserved, or handed over), or none. */
export function freeRegions(arena: NativeCaller, regions: readonly Region[]): void {
  apply(arena, OP.free, regions);
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
  apply(arena, write ? OP.populateWrite : OP.populateRead, regions);
}

/**
 * Claims every handed-over region, each holding at least its pages, or
 * none: a region that was not handed over, is smaller or is listed twice
 * is damaged data, a {@link CorruptImageError} naming `what`, the
 * region's index and why.
 */
export function claimRegions(arena: NativeCaller, regions: readonly Region[], what: string): void {
  const { native, handle } = arena[nativeCall]();
  const rc = run(native, handle, OP.claim, regions);
  if (rc === 0) return;
  const code = codeOfNative(rc);
  if (code !== "EINVAL" && code !== "ENOENT") checkNative(native, rc, () => `claim of ${what}s`);
  const k = failed[0];
  throw new CorruptImageError(`${what} ${k}: ${nativeDetail(native)} (${code})`, regions[k].pa);
}
