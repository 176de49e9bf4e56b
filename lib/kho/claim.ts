/**
 * Claiming a handed-over block for a reader of the image: a block that was
 * not handed over, or is too small for what it must hold, is damaged data
 * ({@link CorruptImageError}), not a programming error.
 *
 * @module
 */

import { CorruptImageError, LiveUpdateError } from "../errors.ts";
import { PAGE_SIZE } from "./physical.ts";

/** What claiming needs of an arena. */
export interface Restorer {
  /** Claims a handed-over block; returns its size in pages. */
  restore(pa: bigint): number;
  /** Frees a block. */
  free(pa: bigint): void;
}

/**
 * Claims the handed-over block at `pa`, which must hold at least
 * `minBytes` bytes; `what` names it in the error. Nothing stays claimed on
 * failure. Returns its size in pages.
 */
export function claimBlock(arena: Restorer, pa: bigint, minBytes: number, what: string): number {
  let pages: number;
  try {
    pages = arena.restore(pa);
  } catch (e) {
    if (!(e instanceof LiveUpdateError) || e.code === "EBADF") throw e;
    throw new CorruptImageError(`${what}: block was not handed over (${e.code})`, pa);
  }
  if (pages * PAGE_SIZE < minBytes) {
    arena.free(pa);
    throw new CorruptImageError(
      `${what}: handed-over block has ${pages} pages, ${minBytes} bytes do not fit`,
      pa,
    );
  }
  return pages;
}
