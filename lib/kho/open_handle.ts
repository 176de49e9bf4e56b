/**
 * Creating or opening an arena file natively: the arguments checked, the
 * path encoded, the handle returned (or the typed error of the native
 * call). `Arena` wraps the handle.
 *
 * @module
 */

import { KhoError } from "../errors.ts";
import { checkInteger } from "./check_integer.ts";
import { loadNative } from "./library.ts";
import { checkNative } from "./native_error.ts";
import { createFlags, type CreateOptions, openFlags, type OpenOptions } from "./options.ts";
import { MAX_ARENA_BYTES, MIN_ARENA_BYTES, PAGE_SIZE } from "./physical.ts";
import type { Native } from "./symbols.ts";
import { temporaryArenaPath } from "./temporary.ts";

/** A handle just created or opened. */
export interface OpenedHandle {
  /** The native library it belongs to. */
  native: Native;
  /** The handle. */
  handle: number;
  /** Path of the arena file. */
  path: string;
  /** Whether the file was created by this call (removed again if wrapping it fails). */
  created: boolean;
  /** Whether it is a temporary arena (no path given). */
  temporary: boolean;
}

/** Runs a native create or open of `path`; returns the handle. */
function make(
  native: Native,
  path: string,
  how: { created: boolean; temporary: boolean },
  what: () => string,
  call: (path: Uint8Array, length: bigint, out: Uint32Array) => number,
): OpenedHandle {
  const out = new Uint32Array(1);
  const p = new TextEncoder().encode(path);
  checkNative(native, call(p, BigInt(p.length), out), what);
  return { native, handle: out[0], path, ...how };
}

/** Creates a new arena file (see `Arena.create`). */
export function createHandle(options: CreateOptions): OpenedHandle {
  const native = loadNative(options.library);
  const size = checkInteger(
    "arena size",
    options.size === undefined ? 64 * 1024 * 1024 : options.size,
    Number.MIN_SAFE_INTEGER,
  );
  if (size < MIN_ARENA_BYTES || size > MAX_ARENA_BYTES || size % PAGE_SIZE !== 0) {
    throw new KhoError(
      "EINVAL",
      `arena size ${size}: must be a multiple of ${PAGE_SIZE} between ${MIN_ARENA_BYTES} and ${MAX_ARENA_BYTES}`,
    );
  }
  const path = options.path ?? temporaryArenaPath();
  const flags = createFlags(options);
  return make(
    native,
    path,
    { created: true, temporary: options.path === undefined },
    () => `create arena ${path} of ${size} bytes`,
    (p, len, out) => native.kho_create(p, len, BigInt(size), flags, out),
  );
}

/** Opens an existing arena file (see `Arena.open`). */
export function openHandle(path: string, options: OpenOptions): OpenedHandle {
  const native = loadNative(options.library);
  const flags = openFlags(options);
  return make(
    native,
    path,
    { created: false, temporary: false },
    () => `open arena ${path}`,
    (p, len, out) => native.kho_open(p, len, flags, out),
  );
}
