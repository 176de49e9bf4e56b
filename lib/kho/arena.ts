/**
 * Typed wrapper of the native arena ("physical memory"): physical addresses
 * as `bigint`, zero-copy views over regions, native error codes as
 * {@link KhoError}s, cleanup with `using`.
 *
 * This is the only module that touches raw pointers.
 *
 * @module
 */

import { KhoError, UnflushedHandoverError } from "../errors.ts";
import { claimBlock } from "./claim.ts";
import { withPermission } from "./permission.ts";
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
import { ArenaBuffers, keepTemporary, removeAtExit } from "./collector.ts";
import { nativeCall, type NativeCaller, type NativeHandle } from "./native_call.ts";
import {
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

/** {@link PHYS_BASE} as a double (exact). */
const PHYS_BASE_NUMBER = Number(PHYS_BASE);

export type { AllocOptions, ArenaInfo, ArenaOptions, CreateOptions, OpenOptions };
export type { Region, RegionKind };
export { checkInteger, PAGE_SIZE, PHYS_BASE, POISON_BYTE };

/** Offset of the header's `fdt_pa` (SPEC: the arena file layout). */
const ARENA_FDT_PA = 32;

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
export class Arena implements NativeCaller {
  /** Path of the arena file. */
  readonly path: string;
  /** Size of the arena in bytes. */
  readonly size: number;
  #native: Native;
  #handle: number;
  #buffer: ArrayBuffer;
  #bytes: Uint8Array;
  #dataView: DataView;
  #words: Int32Array;
  #out = new BigUint64Array(2);
  #info = new BigUint64Array(INFO_BYTES / 8);
  #infoBytes = new Uint8Array(this.#info.buffer);
  #outBytes = new Uint8Array(this.#out.buffer);
  #closed = false;
  /** A temporary arena's file, removed when closed without a handover (null: keep the file). */
  #remove: string | null;
  #base: Deno.PointerObject;
  #buffers = new ArenaBuffers();
  #nativeHandle: NativeHandle;

  private constructor(native: Native, handle: number, path: string, temporary: boolean) {
    this.#native = native;
    this.#handle = handle;
    this.#nativeHandle = Object.freeze({ native, handle });
    this.path = path;
    this.#remove = temporary ? path : null;
    this.size = this.info().size;
    const base = native.kho_base(handle);
    if (base === null) throw new KhoError("EBADF", `arena ${path}: no mapping`);
    this.#base = base;
    this.#buffer = withPermission(
      `mapping arena ${path} into JavaScript (a path-scoped --allow-ffi=PATH is not enough)`,
      () => Deno.UnsafePointerView.getArrayBuffer(base, this.size),
    );
    this.#buffers.track(this.#buffer);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#dataView = new DataView(this.#buffer);
    this.#words = new Int32Array(this.#buffer);
    if (temporary) removeAtExit(path);
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
      return new Arena(o.native, o.handle, o.path, o.temporary);
    } catch (e) {
      o.native.kho_close(o.handle);
      if (o.created) removeIfPresent(o.path);
      throw e;
    }
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
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
    if (this.#closed) return;
    this.#closed = true;
    const revocable = this.#buffers.revokeAll();
    if (this.#remove) {
      removeIfPresent(this.#remove);
      keepTemporary(this.#remove);
    }
    if (!revocable) return; // kept mapped: a transferred buffer may still reach it
    this.#check(this.#native.kho_close(this.#handle), () => `close arena ${this.path}`);
  }

  /**
   * A zero-copy view of [pa, pa+len) on a buffer of its own, revoked (made
   * empty) by `revoke` or when the arena closes: what a memory file hands out,
   * so that closing the file empties its views before its pages are reused.
   */
  ownView(pa: bigint, len: number): { view: Uint8Array; ref: WeakRef<ArrayBuffer> } {
    this.#live();
    const off = this.offsetOf(pa, len);
    const buffer = len === 0
      ? new ArrayBuffer(0)
      : Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.offset(this.#base, off)!, len);
    return { view: new Uint8Array(buffer), ref: this.#buffers.track(buffer) };
  }

  /** Empties a view from {@link ownView}; false when its buffer was transferred away by its user. */
  revoke(ref: WeakRef<ArrayBuffer>): boolean {
    return this.#buffers.revoke(ref);
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): void {
    if (this.#closed) throw new KhoError("EBADF", `arena ${this.path} is closed`);
    if (this.#buffer.detached) {
      throw new KhoError(
        "EBADF",
        `arena ${this.path}: its memory was transferred away (an ArrayBuffer transfer of one of its views)`,
      );
    }
  }

  #check(rc: number, what: () => string): void {
    checkNative(this.#native, rc, what);
  }

  /** @internal The native library and handle, for the modules of lib/kho (see native_call.ts). */
  [nativeCall](): NativeHandle {
    this.#live();
    return this.#nativeHandle;
  }

  /** One native call on this live arena; `what` names it in the error. */
  #call(what: () => string, call: (native: Native, handle: number) => number): void {
    this.#live();
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

  /** Frees a block from {@link alloc} that is not preserved. */
  free(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `free ${hex(pa)}`, (nt, h) => nt.kho_free(h, pa));
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
    return this.dataView.getBigUint64(ARENA_FDT_PA, true);
  }

  /**
   * Appends the allocated block at `pa` to the image that is published now
   * (the predecessor's, or this process's own last handover), crash-safely:
   * if this process dies before its own handover, the next opener finds the
   * block handed over, with whatever it held. The block stays allocated;
   * freeing it later only parks it until the image is superseded. `ENOENT`
   * when nothing is published, `EEXIST` when the block is listed already.
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

  /** Native memcpy of `len` bytes inside the arena (a benchmark baseline). */
  copy(dst: bigint, src: bigint, len: number): void {
    checkAddress(dst);
    checkAddress(src);
    const n = BigInt(checkInteger("copy length", len, 0, this.size));
    this.#call(() => `copy ${len} bytes`, (nt, h) => nt.kho_copy(h, dst, src, n));
  }

  /** Fault injection: the `n`th allocation from now fails with `ENOMEM` (0 disables). */
  failAllocAfter(n: number): void {
    const k = BigInt(checkInteger("fault injection count", n));
    this.#call(() => "fail_alloc_after", (nt, h) => nt.kho_fail_alloc_after(h, k));
  }

  /**
   * Fault injection: with `sync`, the `n`th msync from now fails with `EIO`
   * (0 disables). A failure before a handover's commit point fails it with
   * nothing changed; one after it fails it with the image published.
   */
  failSyncAfter(n: number): void {
    const k = BigInt(checkInteger("fault injection count", n));
    this.#call(() => "fail_sync_after", (nt, h) => nt.kho_fail_sync_after(h, k));
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

  /** Byte offset in the arena of [pa, pa+len), validated (`EINVAL` naming what is wrong). */
  offsetOf(pa: bigint, len: number): number {
    // In doubles without a BigInt: exact for every address inside an arena
    // (below 2^53); any other lands outside.
    const off = typeof pa === "bigint" ? Number(pa) - PHYS_BASE_NUMBER : NaN;
    if (!(off >= 0 && len >= 0 && off + len <= this.size) || !Number.isInteger(len)) {
      checkAddress(pa);
      checkInteger("length", len);
      throw new KhoError(
        "EINVAL",
        `physical range ${hex(pa)}+${len} is outside arena ${this.path}`,
      );
    }
    return off;
  }

  /** True when [pa, pa+len) lies inside the arena. */
  contains(pa: bigint, len = 1): boolean {
    const off = typeof pa === "bigint" ? Number(pa) - PHYS_BASE_NUMBER : NaN;
    if (Number.isNaN(off) || !Number.isInteger(len)) {
      checkAddress(pa);
      checkInteger("length", len);
    }
    return off >= 0 && len >= 0 && off + len <= this.size;
  }

  /** Zero-copy bytes of [pa, pa+len). */
  bytes(pa: bigint, len: number): Uint8Array {
    this.#live();
    const off = this.offsetOf(pa, len);
    return this.#bytes.subarray(off, off + len);
  }

  /** Zero-copy `DataView` of [pa, pa+len). */
  view(pa: bigint, len: number): DataView {
    this.#live();
    return new DataView(this.#buffer, this.offsetOf(pa, len), len);
  }

  /** The whole arena as bytes (offset 0 = {@link PHYS_BASE}). */
  get memory(): Uint8Array {
    this.#live();
    return this.#bytes;
  }

  /** The whole arena as a `DataView` (offset 0 = {@link PHYS_BASE}). */
  get dataView(): DataView {
    this.#live();
    return this.#dataView;
  }

  /** The whole arena as 32-bit words (index = byte offset / 4; host byte order, little-endian). */
  get words(): Int32Array {
    this.#live();
    return this.#words;
  }

  /** The native library's empty call (FFI overhead baseline for benchmarks). */
  noop(): void {
    this.#native.kho_noop();
  }
}

/** Throws `EINVAL` unless `pa` is a bigint in the u64 range (a physical address). */
function checkAddress(pa: unknown): void {
  if (typeof pa !== "bigint") {
    throw new KhoError(
      "EINVAL",
      `physical address ${String(pa)} must be a bigint, got ${typeof pa}`,
    );
  }
  if (pa < 0n || pa > 0xffff_ffff_ffff_ffffn) {
    throw new KhoError("EINVAL", `physical address ${pa}n is outside the u64 range`);
  }
}
