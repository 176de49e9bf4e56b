/**
 * Options of creating, opening and allocating in an arena, and their
 * encoding as the native flags (native/flags.zig).
 *
 * @module
 */

import { KhoError, typeOf } from "../errors.ts";

/**
 * Options common to creating and opening an arena.
 *
 * @example
 * ```ts
 * import { Arena, type ArenaOptions } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * // The same for every generation: poison what is not handed over, keep the file sparse.
 * const options: ArenaOptions = { poison: true, reserve: false };
 * {
 *   using old = Arena.create({ ...options, path, size: 1 << 20 });
 *   old.handover(old.allocPreserve(4096));
 * }
 * const next = Arena.open(path, options);
 * console.log(next.info().handedOverBlocks); // 1
 * next.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface ArenaOptions {
  /** Path of the native library (else `$LUO_NATIVE_LIB`, else the local build). */
  library?: string;
  /** Fill pages that are freed or were not preserved with the poison byte (0xa5). */
  poison?: boolean;
  /**
   * msync the map and the header at handover so that the handover also
   * survives a host crash (default off: a live update survives the exit of
   * the predecessor, which needs no flush).
   */
  sync?: boolean;
  /**
   * Reserve every block of the file (default true): at create the
   * filesystem must have room for the whole arena (`ENOSPC` otherwise), at
   * open the holes of a sparse file are filled. With `false` the file stays
   * sparse: creating a large arena is instant and costs nothing until its
   * pages are used, but a write into a page when the filesystem is full
   * kills the process with SIGBUS.
   */
  reserve?: boolean;
}

/**
 * Options of creating an arena.
 *
 * @example
 * ```ts
 * import { Arena, type CreateOptions } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * // 1 GiB, sparse: created at once, disk used only by the pages written.
 * const options: CreateOptions = { path: `${dir}/big.arena`, size: 1 << 30, reserve: false };
 * const arena = Arena.create(options);
 * console.log(Deno.statSync(arena.path).blocks! * 512 < 1 << 20); // true
 * arena.close(); // a file with a path stays
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface CreateOptions extends ArenaOptions {
  /** Arena size in bytes, a multiple of 4096. Default 64 MiB. */
  size?: number;
  /**
   * File to create (must not exist; it appears under this name only when
   * complete, mode 0600). Default: a fresh file in the temp dir.
   */
  path?: string;
}

/**
 * Options of opening an arena.
 *
 * @example
 * ```ts
 * import { Arena, type OpenOptions } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * {
 *   using old = Arena.create({ path, size: 1 << 20 });
 *   old.handover(old.allocPreserve(4096));
 * }
 * const look: OpenOptions = { readOnly: true }; // no lock, the file is never written
 * const inspector = Arena.open(path, look);
 * console.log(inspector.incomingRoot !== 0n, inspector.info().handovers); // true 1n
 * // Start empty instead of taking the predecessor's image over.
 * const fresh = Arena.open(path, { discard: true });
 * console.log(fresh.info().handedOverBlocks, fresh.incomingRoot); // 0 0n
 * fresh.close();
 * inspector.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface OpenOptions extends ArenaOptions {
  /**
   * Map privately and never write the file; no lock is taken; any regular
   * file the caller can read is accepted (symlinks followed). For inspection.
   */
  readOnly?: boolean;
  /** Ignore whatever was handed over: every page is free. */
  discard?: boolean;
  /**
   * Accept an arena file owned by another user (default: refused with
   * `EPERM`, since its owner could change or truncate it under this
   * process). Its mode must still be 0600.
   */
  allowOtherOwner?: boolean;
}

/**
 * Options of an allocation.
 *
 * @example
 * ```ts
 * import { Arena, type AllocOptions, PAGE_SIZE } from "@luo/live-update/kho";
 * using arena = Arena.create({ size: 1 << 20, poison: true });
 * arena.free(arena.alloc(PAGE_SIZE)); // freed: its page now reads 0xa5
 * const zeroed: AllocOptions = { zero: true };
 * const pa = arena.alloc(PAGE_SIZE, zeroed); // the same page, zero-filled
 * console.log(arena.bytes(pa, 2), arena.info().zeroedPages); // Uint8Array(2) [ 0, 0 ] 1
 * ```
 */
export interface AllocOptions {
  /**
   * The whole block reads as zero (otherwise its contents are whatever the
   * pages held). Pages never handed out since the arena was created are
   * zero already and are not written.
   */
  zero?: boolean;
}

/** Native flags of an allocation (native/arena.zig `AllocFlags`). */
export function allocFlags(o: AllocOptions): number {
  checkBooleans(o, ["zero"]);
  return o.zero ? 1 : 0;
}

/** Native flags of create and open (native/flags.zig `Flags`). */
const FLAGS = {
  poison: 1,
  readOnly: 2,
  discard: 4,
  sync: 8,
  allowOtherOwner: 16,
  sparse: 32,
} as const;

/**
 * The options argument of `what`: `{}` when absent, itself when a plain
 * object; `EINVAL` for anything else (null, a string, an array, ...).
 */
export function optionsOf<T extends object>(what: string, o: T | undefined): T {
  if (o === undefined) return {} as T;
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    throw new KhoError("EINVAL", `${what}: options must be an object, got ${typeOf(o)}`);
  }
  return o;
}

/** Throws `EINVAL` unless `path` (named by `what`) is a non-empty string. */
export function checkPath(what: string, path: unknown): string {
  if (typeof path !== "string" || path.length === 0) {
    const got = typeof path === "string" ? `""` : typeOf(path);
    throw new KhoError("EINVAL", `${what} must be a non-empty string, got ${got}`);
  }
  return path;
}

/** Throws `EINVAL` unless every named option is a boolean or absent. */
function checkBooleans(o: object, names: readonly string[]): void {
  for (const name of names) {
    const v = (o as Record<string, unknown>)[name];
    if (v !== undefined && typeof v !== "boolean") {
      throw new KhoError(
        "EINVAL",
        `option ${name} must be a boolean, got ${typeOf(v)} ${String(v)}`,
      );
    }
  }
}

/** Native flags of a create (`EINVAL` for an option of the wrong kind). */
export function createFlags(o: CreateOptions): number {
  checkBooleans(o, ["poison", "sync", "reserve"]);
  if (o.path !== undefined) checkPath("option path", o.path);
  return (o.poison ? FLAGS.poison : 0) | (o.sync ? FLAGS.sync : 0) |
    (o.reserve === false ? FLAGS.sparse : 0);
}

/** Native flags of an open (`EINVAL` for an option of the wrong kind). */
export function openFlags(o: OpenOptions): number {
  checkBooleans(o, ["poison", "sync", "reserve", "readOnly", "discard", "allowOtherOwner"]);
  return (o.poison ? FLAGS.poison : 0) | (o.sync ? FLAGS.sync : 0) |
    (o.reserve === false ? FLAGS.sparse : 0) | (o.readOnly ? FLAGS.readOnly : 0) |
    (o.discard ? FLAGS.discard : 0) | (o.allowOtherOwner ? FLAGS.allowOtherOwner : 0);
}
