/**
 * Fault injection and benchmark baselines for an arena: not part of the
 * published API (no entry point exports this module); tests and
 * benchmarks import it from `lib/kho/`.
 *
 * @module
 */

import type { Arena } from "./arena.ts";
import { checkAddress } from "./arena_memory.ts";
import { checkInteger } from "./check_integer.ts";
import { checkNative } from "./native_error.ts";
import { nativeCall } from "./native_call.ts";
import type { Native } from "./symbols.ts";

/** One native call on `arena`, its failure a typed error naming `what`. */
function call(arena: Arena, what: string, f: (native: Native, handle: number) => number): void {
  const { native, handle } = arena[nativeCall]();
  checkNative(native, f(native, handle), () => what);
}

/**
 * The `n`th allocation of `arena` from now fails with `ENOMEM` (0
 * disables): every allocation path must then fail cleanly, leak nothing
 * and succeed when retried.
 *
 * @example
 * ```ts
 * import { Arena } from "./arena.ts";
 * import { failAllocAfter } from "./faults.ts";
 * using arena = Arena.create({ size: 1 << 20 });
 * failAllocAfter(arena, 1);
 * try {
 *   arena.alloc(4096);
 * } catch (e) {
 *   console.log((e as Error).message); // ENOMEM ... fault injection
 * }
 * ```
 */
export function failAllocAfter(arena: Arena, n: number): void {
  const k = BigInt(checkInteger("fault injection count", n));
  call(arena, "fail_alloc_after", (nt, h) => nt.kho_fail_alloc_after(h, k));
}

/**
 * With `sync`, the `n`th msync of `arena` from now fails with `EIO` (0
 * disables). A failure before a handover's commit point fails it with
 * nothing changed; one after it fails it with the image published.
 */
export function failSyncAfter(arena: Arena, n: number): void {
  const k = BigInt(checkInteger("fault injection count", n));
  call(arena, "fail_sync_after", (nt, h) => nt.kho_fail_sync_after(h, k));
}

/** Native memcpy of `len` bytes from `src` to `dst` inside `arena` (a benchmark baseline). */
export function nativeCopy(arena: Arena, dst: bigint, src: bigint, len: number): void {
  checkAddress(dst);
  checkAddress(src);
  const n = BigInt(checkInteger("copy length", len, 0, arena.size));
  call(arena, `copy ${len} bytes`, (nt, h) => nt.kho_copy(h, dst, src, n));
}

/** The native library's empty call on `arena`'s library (the FFI overhead baseline). */
export function nativeNoop(arena: Arena): void {
  arena[nativeCall]().native.kho_noop();
}
