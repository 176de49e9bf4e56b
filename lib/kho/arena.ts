/**
 * Typed wrapper of the native arena ("physical memory"): physical addresses
 * as `bigint`, zero-copy views over regions, native error codes as
 * {@link KhoError}s, cleanup with `using`.
 *
 * This is the only module that touches raw pointers.
 *
 * @module
 */

import { CorruptImageError, ERRORS, KhoError, LiveUpdateError } from "../errors.ts";
import { loadNative } from "./library.ts";
import type { Native } from "./symbols.ts";
import { type ArenaInfo, decodeInfo, INFO_BYTES } from "./info.ts";
import { checkNative } from "./native_error.ts";
import {
  allocFlags,
  type AllocOptions,
  type ArenaOptions,
  createFlags,
  type CreateOptions,
  openFlags,
  type OpenOptions,
} from "./options.ts";

import { checkInteger } from "./check_integer.ts";
import {
  hex,
  PAGE_SIZE,
  PHYS_BASE,
  POISON_BYTE,
  type Region,
  REGION_KIND,
  type RegionKind,
} from "./physical.ts";
import { removeIfPresent, temporaryArenaPath } from "./temporary.ts";

export type {
  AllocOptions,
  ArenaInfo,
  ArenaOptions,
  CreateOptions,
  OpenOptions,
  Region,
  RegionKind,
};
export { checkInteger, PAGE_SIZE, PHYS_BASE, POISON_BYTE };

/** What the collector closes when an arena and every view of its memory are gone. */
interface Held {
  native: Native;
  handle: number;
  /** Path of a temporary arena never handed over (removed with it), else null. */
  remove: string | null;
}

// Registered on the mapping's ArrayBuffer, not on the Arena: a view
// (Uint8Array, DataView) keeps its buffer reachable, so the memory is
// never unmapped while any view of it can still be used.
const finalizer = new FinalizationRegistry<Held>((h) => {
  h.native.kho_close(h.handle);
  if (h.remove) removeIfPresent(h.remove);
});

/** The native library of `options` (checked to match this module when loaded). */
function nativeFor(options: ArenaOptions): Native {
  return loadNative(options.library);
}

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
export class Arena {
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
  #held: Held;

  private constructor(native: Native, handle: number, path: string, temporary: boolean) {
    this.#native = native;
    this.#handle = handle;
    this.path = path;
    this.#held = { native, handle, remove: temporary ? path : null };
    this.size = this.info().size;
    const base = native.kho_base(handle);
    if (base === null) throw new KhoError("EBADF", `arena ${path}: no mapping`);
    this.#buffer = Deno.UnsafePointerView.getArrayBuffer(base, this.size);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#dataView = new DataView(this.#buffer);
    this.#words = new Int32Array(this.#buffer);
    finalizer.register(this.#buffer, this.#held, this.#held);
  }

  /**
   * Creates a new arena file (mode 0600) and maps it. Without a `path`, a
   * temporary file in /dev/shm (or the temp dir) that is removed again when
   * the arena is closed without a handover.
   */
  static create(options: CreateOptions = {}): Arena {
    const native = nativeFor(options);
    const size = checkInteger("arena size", options.size ?? 64 * 1024 * 1024, 2 * PAGE_SIZE);
    if (size % PAGE_SIZE !== 0) {
      throw new KhoError("EINVAL", `arena size ${size} is not a multiple of ${PAGE_SIZE}`);
    }
    const temporary = options.path === undefined;
    const path = options.path ?? temporaryArenaPath();
    const out = new Uint32Array(1);
    const p = new TextEncoder().encode(path);
    const flags = createFlags(options);
    const rc = native.kho_create(p, BigInt(p.length), BigInt(size), flags, out);
    checkNative(native, rc, () => `create arena ${path} of ${size} bytes`);
    try {
      return new Arena(native, out[0], path, temporary);
    } catch (e) {
      native.kho_close(out[0]);
      removeIfPresent(path);
      throw e;
    }
  }

  /**
   * Opens an existing arena. A live holder makes this fail with `EBUSY`; a
   * damaged preserved-memory map with `EBADMSG` (open with `discard` to start
   * empty instead).
   */
  static open(path: string, options: OpenOptions = {}): Arena {
    const native = nativeFor(options);
    const flags = openFlags(options);
    const out = new Uint32Array(1);
    const p = new TextEncoder().encode(path);
    checkNative(
      native,
      native.kho_open(p, BigInt(p.length), flags, out),
      () => `open arena ${path}`,
    );
    try {
      return new Arena(native, out[0], path, false);
    } catch (e) {
      native.kho_close(out[0]);
      throw e;
    }
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Unmaps and unlocks the arena; views taken from it become empty. A
   * temporary arena (created without a path) that never handed over is
   * removed. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this.#held);
    // Detach the buffer so that no view can reach the unmapped memory.
    this.#buffer.transfer(0);
    const rc = this.#native.kho_close(this.#handle);
    if (this.#held.remove) removeIfPresent(this.#held.remove);
    this.#check(rc, () => `close arena ${this.path}`);
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): void {
    if (this.#closed) throw new KhoError("EBADF", `arena ${this.path} is closed`);
  }

  #check(rc: number, what: () => string): void {
    checkNative(this.#native, rc, what);
  }

  #size(what: string, size: unknown): bigint {
    return BigInt(checkInteger(`${what} size`, size, 1, this.size));
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
    this.#live();
    const n = this.#size("alloc", size);
    this.#check(
      this.#native.kho_alloc(this.#handle, n, allocFlags(options), this.#outBytes),
      () => `alloc ${size} bytes`,
    );
    return { pa: this.#out[0], pages: Number(this.#out[1]) };
  }

  /** Frees a block from {@link alloc} that is not preserved. */
  free(pa: bigint): void {
    this.#live();
    this.#check(this.#native.kho_free(this.#handle, pa), () => `free ${hex(pa)}`);
  }

  /** Allocates a block and marks it preserved: it survives the handover. */
  allocPreserve(size: number, options: AllocOptions = {}): bigint {
    this.#live();
    const n = this.#size("alloc_preserve", size);
    this.#check(
      this.#native.kho_alloc_preserve(this.#handle, n, allocFlags(options), this.#outBytes),
      () => `alloc_preserve ${size} bytes`,
    );
    return this.#out[0];
  }

  /** Unpreserves and frees a block. */
  unpreserveFree(pa: bigint): void {
    this.#live();
    this.#check(
      this.#native.kho_unpreserve_free(this.#handle, pa),
      () => `unpreserve_free ${hex(pa)}`,
    );
  }

  /** Marks an allocated block of `size` bytes preserved. */
  preserve(pa: bigint, size: number): void {
    this.#live();
    const n = this.#size("preserve", size);
    this.#check(this.#native.kho_preserve(this.#handle, pa, n), () => `preserve ${hex(pa)}`);
  }

  /** Clears the preserved mark of a block. */
  unpreserve(pa: bigint, size: number): void {
    this.#live();
    const n = this.#size("unpreserve", size);
    this.#check(this.#native.kho_unpreserve(this.#handle, pa, n), () => `unpreserve ${hex(pa)}`);
  }

  /** Claims a block the predecessor handed over; returns its size in pages. */
  restore(pa: bigint): number {
    this.#live();
    this.#check(
      this.#native.kho_restore(this.#handle, pa, this.#outBytes),
      () => `restore ${hex(pa)}`,
    );
    return Number(this.#out[0]);
  }

  /**
   * Claims a handed-over block that must hold at least `minBytes` bytes;
   * `what` names it in the {@link CorruptImageError} thrown when the block
   * was not handed over or is smaller (then nothing stays claimed).
   * Returns its size in pages.
   */
  claim(pa: bigint, minBytes: number, what: string): number {
    let pages: number;
    try {
      pages = this.restore(pa);
    } catch (e) {
      if (!(e instanceof LiveUpdateError) || e.code === "EBADF") throw e;
      throw new CorruptImageError(`${what}: block was not handed over (${e.code})`, pa);
    }
    if (pages * PAGE_SIZE < minBytes) {
      this.free(pa);
      throw new CorruptImageError(
        `${what}: handed-over block has ${pages} pages, ${minBytes} bytes do not fit`,
        pa,
      );
    }
    return pages;
  }

  /** Frees a handed-over block, restored or not. */
  restoreFree(pa: bigint): void {
    this.#live();
    this.#check(this.#native.kho_restore_free(this.#handle, pa), () => `restore_free ${hex(pa)}`);
  }

  /**
   * Writes the preserved-memory map and publishes `rootPa` (a preserved
   * block, or `0n` for nothing) in the header. Handed-over blocks nobody
   * restored are freed.
   */
  handover(rootPa: bigint): void {
    this.#live();
    this.#check(
      this.#native.kho_handover(this.#handle, rootPa),
      () => `handover of root ${hex(rootPa)}`,
    );
    if (rootPa !== 0n) this.#held.remove = null; // a successor needs the file now
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
    this.#live();
    this.#check(this.#native.kho_attach(this.#handle, pa), () => `attach ${hex(pa)}`);
  }

  /**
   * Gives up the predecessor's image for good: unpublishes it (the handover
   * count is kept) and frees its unclaimed blocks, its map and every
   * deferred free. `ENOENT` when no incoming image is published.
   */
  discardIncoming(): void {
    this.#live();
    this.#check(
      this.#native.kho_discard_incoming(this.#handle),
      () => `discard incoming image of ${this.path}`,
    );
  }

  /** Native memcpy of `len` bytes inside the arena (a benchmark baseline). */
  copy(dst: bigint, src: bigint, len: number): void {
    this.#live();
    const n = BigInt(checkInteger("copy length", len, 0, this.size));
    this.#check(this.#native.kho_copy(this.#handle, dst, src, n), () => `copy ${len} bytes`);
  }

  /** Fault injection: the `n`th allocation from now fails with `ENOMEM` (0 disables). */
  failAllocAfter(n: number): void {
    this.#live();
    const k = BigInt(checkInteger("fault injection count", n));
    this.#check(this.#native.kho_fail_alloc_after(this.#handle, k), () => "fail_alloc_after");
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
  *regions(kind: RegionKind): Generator<Region> {
    this.#live();
    const out = new BigUint64Array(2);
    const outBytes = new Uint8Array(out.buffer);
    let from = PHYS_BASE;
    for (let guard = 0; guard <= this.size / PAGE_SIZE; guard++) {
      const rc = this.#native.kho_next_region(this.#handle, from, REGION_KIND[kind], outBytes);
      if (rc === -ERRORS.ENOENT.errno) return;
      this.#check(rc, () => `list ${kind} regions`);
      yield { pa: out[0], pages: Number(out[1]) };
      from = out[0] + BigInt(out[1]) * BigInt(PAGE_SIZE);
    }
    throw new KhoError("EIO", `list ${kind} regions: more regions than pages`);
  }

  /** Byte offset in the arena of [pa, pa+len), validated. */
  offsetOf(pa: bigint, len: number): number {
    const off = pa - PHYS_BASE;
    if (off < 0n || off + BigInt(len) > BigInt(this.size) || len < 0) {
      throw new KhoError(
        "EINVAL",
        `physical range ${hex(pa)}+${len} is outside arena ${this.path}`,
      );
    }
    return Number(off);
  }

  /** True when [pa, pa+len) lies inside the arena. */
  contains(pa: bigint, len = 1): boolean {
    const off = pa - PHYS_BASE;
    return off >= 0n && len >= 0 && off + BigInt(len) <= BigInt(this.size);
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
