/**
 * The way the modules of `lib/kho` reach an arena's native library and
 * handle: a method keyed by a symbol that no entry point exports, so that
 * users of `Arena` never see it.
 *
 * @module
 */

import type { Native } from "./symbols.ts";

/** @internal Key of `Arena`'s native handle (see {@link NativeCaller}). */
export const nativeCall: unique symbol = Symbol("nativeCall");

/** @internal An arena's native library and handle. */
export interface NativeHandle {
  /** The library. */
  readonly native: Native;
  /** The arena's handle. */
  readonly handle: number;
}

/** @internal What `Arena` offers the other modules of `lib/kho`. */
export interface NativeCaller {
  /**
   * The arena's native library and handle (`EBADF` when the arena is
   * closed), for a native call whose result the caller checks. The same
   * object every time: a call allocates nothing.
   */
  [nativeCall](): NativeHandle;
}
