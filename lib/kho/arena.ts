/**
 * Typed wrapper of the native arena ("physical memory"): physical addresses
 * as `bigint`, native error codes as {@link KhoError}s, cleanup with
 * `using`; the zero-copy views over its memory are {@link ArenaMemory}'s
 * (arena_memory.ts). With that module, the only one that touches raw
 * pointers.
 *
 * @module
 */

import { KhoError, UnflushedHandoverError } from "../errors.ts";
import { ArenaMemory, checkAddress } from "./arena_memory.ts";
import { claimBlock } from "./claim.ts";
import type { Native } from "./symbols.ts";
import { type ArenaInfo, decodeInfo, INFO_BYTES } from "./info.ts";
import { checkNative } from "./native_error.ts";
import {
  allocFlags,
  type AllocOptions,
  type ArenaOptions,
  checkPath,
  type CreateOptions,
  type OpenOptions,
  optionsOf,
} from "./options.ts";
import { checkInteger } from "./check_integer.ts";
import { keepTemporary, removeAtExit } from "./collector.ts";
import { nativeCall, type NativeCaller, type NativeHandle } from "./native_call.ts";
import {
  ARENA_HEADER,
  hex,
  PAGE_SIZE,
  PHYS_BASE,
  POISON_BYTE,
  type Region,
  type RegionKind,
} from "./physical.ts";
import { removeIfPresent } from "./temporary.ts";
import { createHandle, type OpenedHandle, openHandle } from "./open_handle.ts";
import { allocExtents, DEFAULT_MAX_EXTENTS, populateRegions } from "./regions.ts";
import { listRegions } from "./region_list.ts";

export type { AllocOptions, ArenaInfo, ArenaOptions, CreateOptions, OpenOptions };
export type { Region, RegionKind };
export { ArenaMemory, checkInteger, PAGE_SIZE, PHYS_BASE, POISON_BYTE };

/**
 * An open arena. Create one with {@link Arena.create} (fresh) or
 * {@link Arena.open} (a predecessor's). Release it with `using` or
 * {@link Arena.close}; one forgotten is closed once it and every view of
 * its memory are collected.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * using arena = Arena.create({ size: 1 << 20 });
 * const pa = arena.allocPreserve(8192);
 * arena.bytes(pa, 5).set([1, 2, 3, 4, 5]);
 * arena.handover(pa); // a successor could open the file now
 * Deno.removeSync(arena.path);
 * ```
 */
export class Arena extends ArenaMemory implements NativeCaller {
  #native: Native;
  #handle: number;
  #out = new BigUint64Array(2);
  #info = new BigUint64Array(INFO_BYTES / 8);
  #infoBytes = new Uint8Array(this.#info.buffer);
  #outBytes = new Uint8Array(this.#out.buffer);
  /** A temporary arena's file, removed when closed without a handover (null: keep the file). */
  #remove: string | null;
  #nativeHandle: NativeHandle;

  private constructor(o: OpenedHandle, size: number, base: Deno.PointerObject) {
    super(o.path, size, base);
    this.#native = o.native;
    this.#handle = o.handle;
    this.#nativeHandle = Object.freeze({ native: o.native, handle: o.handle });
    this.#remove = o.temporary ? o.path : null;
    if (o.temporary) removeAtExit(o.path);
  }

  /**
   * Creates a new arena file (mode 0600) and maps it. Without a `path`, a
   * temporary file in /dev/shm (or the temp dir) that is removed again when
   * the arena is closed without a handover.
   */
  static create(options?: CreateOptions): Arena {
    return Arena.#wrap(createHandle(optionsOf("create arena", options)));
  }

  /**
   * Opens an existing arena. A live holder makes this fail with `EBUSY`; a
   * damaged preserved-memory map with `EBADMSG` (open with `discard` to start
   * empty instead).
   */
  static open(path: string, options?: OpenOptions): Arena {
    checkPath("open arena: the path", path);
    return Arena.#wrap(openHandle(path, optionsOf(`open arena ${path}`, options)));
  }

  /** The arena of a handle just created or opened (closed again, and a created file removed, on failure). */
  static #wrap(o: OpenedHandle): Arena {
    try {
      const info = new BigUint64Array(INFO_BYTES / 8);
      checkNative(o.native, o.native.kho_info(o.handle, info), () => `info of ${o.path}`);
      const base = o.native.kho_base(o.handle);
      if (base === null) throw new KhoError("EBADF", `arena ${o.path}: no mapping`);
      return new Arena(o, decodeInfo(info).size, base);
    } catch (e) {
      o.native.kho_close(o.handle);
      if (o.created) removeIfPresent(o.path);
      throw e;
    }
  }

  /**
   * Unmaps and unlocks the arena; every view taken from it (here or from a
   * memory file) becomes empty (length 0). A temporary arena (created
   * without a path) that never handed over is removed. Idempotent.
   *
   * If a view's buffer was transferred away (`postMessage`,
   * `structuredClone` with `transfer`), its memory cannot be revoked: the
   * arena is then kept mapped and locked until the process exits (a
   * successor can open it only after that), so that no reachable buffer
   * ever points at unmapped memory.
   */
  close(): void {
    if (this.closed) return;
    const revocable = this.revokeAll();
    if (this.#remove) {
      removeIfPresent(this.#remove);
      keepTemporary(this.#remove);
    }
    if (!revocable) return; // kept mapped: a transferred buffer may still reach it
    this.#check(this.#native.kho_close(this.#handle), () => `close arena ${this.path}`);
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #check(rc: number, what: () => string): void {
    checkNative(this.#native, rc, what);
  }

  /** @internal The native library and handle, for the modules of lib/kho (see native_call.ts). */
  [nativeCall](): NativeHandle {
    this.live();
    return this.#nativeHandle;
  }

  /** One native call on this live arena; `what` names it in the error. */
  #call(what: () => string, call: (native: Native, handle: number) => number): void {
    this.live();
    this.#check(call(this.#native, this.#handle), what);
  }

  /** `size` as the native size: `EINVAL` unless a positive integer, `ENOMEM` beyond the arena. */
  #size(what: string, size: unknown): bigint {
    const n = checkInteger(`${what} size`, size, 1);
    if (n > this.size) {
      throw new KhoError("ENOMEM", `${what} ${n} bytes: more than the whole arena (${this.size})`);
    }
    return BigInt(n);
  }

  /** Allocates a block of at least `size` bytes (contents undefined unless `zero`). */
  alloc(size: number, options: AllocOptions = {}): bigint {
    return this.allocRegion(size, options).pa;
  }

  /**
   * Allocates a block of at least `size` bytes (the allocator rounds up to a
   * power of two pages); returns it with its size in pages. Its contents are
   * undefined unless `zero` (then the whole block reads as zero).
   */
  allocRegion(size: number, options: AllocOptions = {}): Region {
    const n = this.#size("alloc", size);
    const flags = allocFlags(options);
    this.#call(() => `alloc ${size} bytes`, (nt, h) => nt.kho_alloc(h, n, flags, this.#outBytes));
    return { pa: this.#out[0], pages: Number(this.#out[1]) };
  }

  /**
   * Frees a block from {@link alloc} that is not preserved, or a handed-over
   * one. A block listed in the published image (handed over, or attached)
   * is only parked until this process hands over, so that a crash before
   * then finds it intact; see {@link freeUnreferenced}.
   */
  free(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `free ${hex(pa)}`, (nt, h) => nt.kho_free(h, pa));
  }

  /**
   * Frees a block now, even when the published image lists it, for a
   * block that nothing in that image references any more (the caller's
   * guarantee: e.g. a structure of the image, updated in place, stopped
   * naming it and that update is committed). Its entry in the published
   * preserved-memory map is removed first by one aligned store, so a crash
   * at any point leaves it either listed and intact or unlisted and free;
   * the slot is reused by the next {@link attach}. The space a successor
   * that rewrites its state in place needs then stays bounded by what it
   * holds, not by what it ever wrote. `EBUSY` for the map's own blocks and
   * the published root, and otherwise the errors of {@link free}. Never use
   * it for a block the image still references (a retrieved file's pages):
   * a restarted successor would find them gone.
   *
   * @example
   * ```ts
   * import { Arena, PAGE_SIZE } from "@luo/live-update/kho";
   * const path = Deno.makeTempFileSync();
   * Deno.removeSync(path);
   * const first = Arena.create({ path, size: 1 << 20 });
   * const root = first.allocPreserve(PAGE_SIZE); // the image's root names a table
   * first.handover(root);
   * first.close();
   * using next = Arena.open(path);
   * next.restore(root);
   * const table = next.alloc(PAGE_SIZE);
   * next.attach(table); // a crash from here on finds it handed over
   * // ... the root stops naming the table (committed) ...
   * next.freeUnreferenced(table); // free now, not when `next` hands over
   * Deno.removeSync(path);
   * ```
   */
  freeUnreferenced(pa: bigint): void {
    checkAddress(pa);
    this.#call(
      () => `free_unreferenced ${hex(pa)}`,
      (nt, h) => nt.kho_free_unreferenced(h, pa),
    );
  }

  /** Allocates a block and marks it preserved: it survives the handover. */
  allocPreserve(size: number, options: AllocOptions = {}): bigint {
    const n = this.#size("alloc_preserve", size);
    const flags = allocFlags(options);
    this.#call(
      () => `alloc_preserve ${size} bytes`,
      (nt, h) => nt.kho_alloc_preserve(h, n, flags, this.#outBytes),
    );
    return this.#out[0];
  }

  /** Unpreserves and frees a block. */
  unpreserveFree(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `unpreserve_free ${hex(pa)}`, (nt, h) => nt.kho_unpreserve_free(h, pa));
  }

  /** Marks an allocated block of `size` bytes preserved. */
  preserve(pa: bigint, size: number): void {
    checkAddress(pa);
    const n = this.#size("preserve", size);
    this.#call(() => `preserve ${hex(pa)}`, (nt, h) => nt.kho_preserve(h, pa, n));
  }

  /** Clears the preserved mark of a block. */
  unpreserve(pa: bigint, size: number): void {
    checkAddress(pa);
    const n = this.#size("unpreserve", size);
    this.#call(() => `unpreserve ${hex(pa)}`, (nt, h) => nt.kho_unpreserve(h, pa, n));
  }

  /** Claims a block the predecessor handed over; returns its size in pages. */
  restore(pa: bigint): number {
    checkAddress(pa);
    this.#call(() => `restore ${hex(pa)}`, (nt, h) => nt.kho_restore(h, pa, this.#outBytes));
    return Number(this.#out[0]);
  }

  /**
   * Allocates `size` bytes as at most `maxExtents` (default 1024) extents,
   * in address order: the size rounded up to a page in free pages, not one
   * power-of-two block of up to twice the size. `ENOMEM`, with nothing
   * allocated, when they do not suffice (see lib/kho/regions.ts).
   */
  allocExtents(size: number, options: AllocOptions & { maxExtents?: number } = {}): Region[] {
    const n = checkInteger("alloc_extents size", size, 1, this.size);
    const max = checkInteger("maxExtents", options.maxExtents ?? DEFAULT_MAX_EXTENTS, 1, 1 << 20);
    return allocExtents(this, n, allocFlags(options), max);
  }

  /**
   * Maps whole regions in bulk: their first use takes no page fault per page
   * (`MADV_POPULATE_READ`/`_WRITE`; where missing, one touch per page).
   */
  populate(regions: readonly Region[], options: { write?: boolean } = {}): void {
    populateRegions(this, regions, options.write === true);
  }

  /**
   * Claims a handed-over block that must hold at least `minBytes` bytes;
   * `what` names it in the `CorruptImageError` thrown when the block was
   * not handed over or is smaller (then nothing stays claimed). Returns its
   * size in pages.
   */
  claim(pa: bigint, minBytes: number, what: string): number {
    checkAddress(pa);
    return claimBlock(this, pa, minBytes, what);
  }

  /** Frees a handed-over block, restored or not. */
  restoreFree(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `restore_free ${hex(pa)}`, (nt, h) => nt.kho_restore_free(h, pa));
  }

  /**
   * Writes the preserved-memory map and publishes `rootPa` (a preserved
   * block, or `0n` for nothing) in the header. Handed-over blocks nobody
   * restored are freed.
   */
  handover(rootPa: bigint): void {
    checkAddress(rootPa);
    try {
      this.#call(() => `handover of root ${hex(rootPa)}`, (nt, h) => nt.kho_handover(h, rootPa));
    } catch (e) {
      if (!(e instanceof KhoError) || e.code !== "EIO" || this.#publishedRoot() !== rootPa) throw e;
      this.#keepFile(rootPa);
      throw new UnflushedHandoverError("EIO", e.message.replace(/^EIO: /, ""), { cause: e });
    }
    this.#keepFile(rootPa);
  }

  /** After a handover that published `rootPa`, a temporary arena's file is kept for the successor. */
  #keepFile(rootPa: bigint): void {
    if (rootPa === 0n || this.#remove === null) return;
    keepTemporary(this.#remove);
    this.#remove = null;
  }

  /** The root the arena header publishes now (the header's `fdt_pa`). */
  #publishedRoot(): bigint {
    return this.dataView.getBigUint64(ARENA_HEADER.fdtPa, true);
  }

  /**
   * Appends the allocated block at `pa` to the image that is published now
   * (the predecessor's, or this process's own last handover), crash-safely:
   * if this process dies before its own handover, the next opener finds the
   * block handed over, with whatever it held. The block stays allocated;
   * {@link free} later only parks it until the image is superseded,
   * {@link freeUnreferenced} frees it at once. `ENOENT` when nothing is
   * published, `EEXIST` when the block is listed already.
   */
  attach(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `attach ${hex(pa)}`, (nt, h) => nt.kho_attach(h, pa));
  }

  /**
   * Gives up the predecessor's image for good: unpublishes it (the handover
   * count is kept) and frees its unclaimed blocks, its map and every
   * deferred free. `ENOENT` when no incoming image is published.
   */
  discardIncoming(): void {
    this.#call(
      () => `discard incoming image of ${this.path}`,
      (nt, h) => nt.kho_discard_incoming(h),
    );
  }

  /** Page accounting and header state. */
  info(): ArenaInfo {
    this.#check(
      this.#native.kho_info(this.#handle, this.#infoBytes),
      () => `info of ${this.path}`,
    );
    return decodeInfo(this.#info);
  }

  /** Root FDT published by the predecessor (`0n` when nothing was handed over). */
  get incomingRoot(): bigint {
    return this.info().incomingRoot;
  }

  /** Lists blocks of a kind, in address order. */
  regions(kind: RegionKind): Generator<Region> {
    return listRegions(this, this.size, kind);
  }
}
