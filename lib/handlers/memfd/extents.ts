/**
 * A memory file's extents on each side of a handover, for both memfd
 * handlers: preserve them all (or none), unpreserve them, claim them all in
 * the successor (or none).
 *
 * @module
 */

import { type Arena, PAGE_SIZE, type Region } from "../../kho/arena.ts";

/** Marks every extent preserved; on a failure unmarks those marked and rethrows. */
export function preserveExtents(arena: Arena, extents: readonly Region[]): void {
  let done = 0;
  try {
    for (; done < extents.length; done++) {
      arena.preserve(extents[done].pa, extents[done].pages * PAGE_SIZE);
    }
  } catch (e) {
    unpreserveExtents(arena, extents.slice(0, done));
    throw e;
  }
}

/** Clears the preserved mark of every extent. */
export function unpreserveExtents(arena: Arena, extents: readonly Region[]): void {
  for (const e of extents) arena.unpreserve(e.pa, e.pages * PAGE_SIZE);
}

/** Claims every extent of a handed-over file; on a failure frees those claimed and rethrows. */
export function claimExtents(arena: Arena, extents: readonly Region[]): void {
  let done = 0;
  try {
    for (; done < extents.length; done++) {
      arena.claim(extents[done].pa, extents[done].pages * PAGE_SIZE, `memfd extent ${done}`);
    }
  } catch (err) {
    for (const e of extents.slice(0, done)) arena.free(e.pa);
    throw err;
  }
}
