/**
 * A memory file's extents on each side of a handover, for both memfd
 * handlers: preserve them all (or none), unpreserve them, claim them all in
 * the successor (or none): one native call for all of a file's extents.
 *
 * @module
 */

import type { Arena, Region } from "../../kho/arena.ts";
import { claimRegions, preserveRegions, unpreserveRegions } from "../../kho/regions.ts";

/** Marks every extent preserved, or none. */
export function preserveExtents(arena: Arena, extents: readonly Region[]): void {
  preserveRegions(arena, extents);
}

/** Clears the preserved mark of every extent. */
export function unpreserveExtents(arena: Arena, extents: readonly Region[]): void {
  unpreserveRegions(arena, extents);
}

/**
 * Claims every extent of a handed-over file, or none: one that was not
 * handed over, is smaller than it says or is listed twice is a
 * `CorruptImageError` naming it.
 */
export function claimExtents(arena: Arena, extents: readonly Region[]): void {
  claimRegions(arena, extents, "memfd extent");
}
