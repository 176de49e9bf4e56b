/**
 * The way the modules of `lib/kho` reach an arena's native library and
 * handle: a method keyed by a symbol that no entry point exports, so that
 * users of `Arena` never see it.
 *
 * @module
 */

import type { Native } from "./symbols.ts";

/** @internal Key of `Arena`'s raw native call (see {@link NativeCaller}). */
export const nativeCall: unique symbol = Symbol("nativeCall");

/** @internal What `Arena` offers the other modules of `lib/kho`. */
export interface NativeCaller {
  /**
   * Runs `call` with the arena's native library and handle (`EBADF` when
   * the arena is closed) and returns its raw result: the caller checks it.
   */
  [nativeCall]<T>(call: (native: Native, handle: number) => T): T;
}
