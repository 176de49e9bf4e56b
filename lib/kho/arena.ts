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
import { allocExtents, DEFAULT_MAX_EXTENTS, populateRegions, trimBlock } from "./regions.ts";
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
   *
   * @example
   * ```ts
   * import { Arena, KhoError } from "@luo/live-update/kho";
   * using scratch = Arena.create({ size: 1 << 20 }); // temporary: removed at close
   * console.log(scratch.info().freePages); // 255: page 0 is the header
   * const dir = Deno.makeTempDirSync();
   * const arena = Arena.create({ path: `${dir}/service.arena`, size: 1 << 20 });
   * try {
   *   Arena.create({ path: arena.path, size: 1 << 20 });
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "EEXIST"
   * }
   * arena.close(); // a file with a path stays
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  static create(options?: CreateOptions): Arena {
    return Arena.#wrap(createHandle(optionsOf("create arena", options)));
  }

  /**
   * Opens an existing arena. A live holder makes this fail with `EBUSY`; a
   * damaged preserved-memory map with `EBADMSG` (open with `discard` to start
   * empty instead).
   *
   * @example
   * ```ts
   * import { Arena, KhoError } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   const root = old.allocPreserve(4096);
   *   old.bytes(root, 2).set([4, 2]);
   *   old.handover(root);
   * } // closed: the successor may open it now
   * const next = Arena.open(path);
   * next.restore(next.incomingRoot);
   * console.log(next.bytes(next.incomingRoot, 2)); // Uint8Array(2) [ 4, 2 ]
   * try {
   *   Arena.open(path);
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "EBUSY": held by a live arena
   * }
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
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
   *
   * @example
   * ```ts
   * import { Arena, KhoError } from "@luo/live-update/kho";
   * const arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(4096);
   * const view = arena.bytes(pa, 16);
   * arena.close(); // the temporary file is removed
   * arena.close(); // idempotent
   * console.log(view.length); // 0
   * try {
   *   arena.bytes(pa, 16);
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "EBADF"
   * }
   * ```
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

  /**
   * Allocates a block of at least `size` bytes (contents undefined unless
   * `zero`); returns its physical address. It does not survive a handover
   * unless preserved.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(100, { zero: true }); // one page, zero-filled
   * console.log(arena.bytes(pa, 100).every((b) => b === 0)); // true
   * arena.free(pa);
   * ```
   */
  alloc(size: number, options: AllocOptions = {}): bigint {
    return this.allocRegion(size, options).pa;
  }

  /**
   * Allocates a block of at least `size` bytes (the allocator rounds up to a
   * power of two pages); returns it with its size in pages. Its contents are
   * undefined unless `zero` (then the whole block reads as zero).
   *
   * @example
   * ```ts
   * import { Arena, PAGE_SIZE } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const { pa, pages } = arena.allocRegion(5000); // rounded up to 2 pages
   * const block = arena.bytes(pa, pages * PAGE_SIZE); // all of it is usable
   * console.log(pages, block.length); // 2 8192
   * ```
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
   *
   * @example
   * ```ts
   * import { Arena, KhoError } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const before = arena.info().freePages;
   * const pa = arena.alloc(3 * 4096); // a block of 4 pages
   * arena.free(pa);
   * console.log(arena.info().freePages === before); // true
   * try {
   *   arena.free(pa);
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "EINVAL": it is free
   * }
   * ```
   */
  free(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `free ${hex(pa)}`, (nt, h) => nt.kho_free(h, pa));
  }

  /**
   * Keeps the first `pages` pages of the allocated, unpreserved block at
   * `pa` and frees the rest; returns the blocks kept (the binary
   * decomposition of `pages`, largest first, contiguous from `pa`). `EBUSY`
   * when the block is preserved or listed in the published image (a block
   * a successor claimed), `EINVAL` for anything but an allocated block (a
   * handed-over one not claimed yet included) or `pages` outside 1 to the
   * block's pages - 1.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const before = arena.info().freePages;
   * const pa = arena.alloc(64 * 4096);
   * const kept = arena.trim(pa, 5); // 4 pages + 1 page
   * console.log(kept.map((r) => r.pages), before - arena.info().freePages); // [4, 1] 5
   * ```
   */
  trim(pa: bigint, pages: number): Region[] {
    checkAddress(pa);
    return trimBlock(this, pa, checkInteger("trim pages", pages, 1, 2 ** 30));
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

  /**
   * Allocates a block and marks it preserved: it survives the handover.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   const kept = old.allocPreserve(4096);
   *   old.alloc(4096); // scratch: not handed over
   *   old.handover(kept);
   * }
   * const next = Arena.open(path);
   * console.log([...next.regions("handed-over")].length); // 1
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  allocPreserve(size: number, options: AllocOptions = {}): bigint {
    const n = this.#size("alloc_preserve", size);
    const flags = allocFlags(options);
    this.#call(
      () => `alloc_preserve ${size} bytes`,
      (nt, h) => nt.kho_alloc_preserve(h, n, flags, this.#outBytes),
    );
    return this.#out[0];
  }

  /**
   * Unpreserves and frees a block.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.allocPreserve(4096);
   * arena.unpreserveFree(pa); // the state it held is no longer needed
   * const { preservedPages, allocatedPages } = arena.info();
   * console.log(preservedPages, allocatedPages); // 0 0
   * ```
   */
  unpreserveFree(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `unpreserve_free ${hex(pa)}`, (nt, h) => nt.kho_unpreserve_free(h, pa));
  }

  /**
   * Marks an allocated block of `size` bytes preserved.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(8192); // filled first, preserved once complete
   * arena.bytes(pa, 3).set([1, 2, 3]);
   * arena.preserve(pa, 8192);
   * console.log([...arena.regions("preserved")]); // [ { pa: 4294975488n, pages: 2 } ]
   * ```
   */
  preserve(pa: bigint, size: number): void {
    checkAddress(pa);
    const n = this.#size("preserve", size);
    this.#call(() => `preserve ${hex(pa)}`, (nt, h) => nt.kho_preserve(h, pa, n));
  }

  /**
   * Clears the preserved mark of a block; it stays allocated.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.allocPreserve(4096);
   * arena.unpreserve(pa, 4096); // kept in use, no longer handed over
   * const { preservedPages, allocatedPages } = arena.info();
   * console.log(preservedPages, allocatedPages); // 0 1
   * ```
   */
  unpreserve(pa: bigint, size: number): void {
    checkAddress(pa);
    const n = this.#size("unpreserve", size);
    this.#call(() => `unpreserve ${hex(pa)}`, (nt, h) => nt.kho_unpreserve(h, pa, n));
  }

  /**
   * Claims a block the predecessor handed over; returns its size in pages.
   * It is then this process's, allocated and not preserved.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   const root = old.allocPreserve(3 * 4096);
   *   old.view(root, 4).setUint32(0, 8080, true);
   *   old.handover(root);
   * }
   * const next = Arena.open(path);
   * const root = next.incomingRoot;
   * console.log(next.restore(root), next.view(root, 4).getUint32(0, true)); // 4 8080
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
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
   *
   * @example
   * ```ts
   * import { Arena, PAGE_SIZE } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const extents = arena.allocExtents(3 * PAGE_SIZE); // not a 4-page block
   * console.log(extents.reduce((n, r) => n + r.pages, 0), arena.info().allocatedPages); // 3 3
   * ```
   */
  allocExtents(size: number, options: AllocOptions & { maxExtents?: number } = {}): Region[] {
    const n = checkInteger("alloc_extents size", size, 1, this.size);
    const max = checkInteger("maxExtents", options.maxExtents ?? DEFAULT_MAX_EXTENTS, 1, 1 << 20);
    return allocExtents(this, n, allocFlags(options), max);
  }

  /**
   * Maps whole regions in bulk: their first use takes no page fault per page
   * (`MADV_POPULATE_READ`/`_WRITE`; where missing, one touch per page).
   *
   * @example
   * ```ts
   * import { Arena, PAGE_SIZE } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const extents = arena.allocExtents(64 * PAGE_SIZE);
   * arena.populate(extents, { write: true }); // before a burst of writes
   * for (const { pa, pages } of extents) arena.bytes(pa, pages * PAGE_SIZE).fill(1);
   * console.log(arena.info().allocatedPages); // 64
   * ```
   */
  populate(regions: readonly Region[], options: { write?: boolean } = {}): void {
    populateRegions(this, regions, options.write === true);
  }

  /**
   * Claims a handed-over block that must hold at least `minBytes` bytes;
   * `what` names it in the `CorruptImageError` thrown when the block was
   * not handed over or is smaller (then nothing stays claimed). Returns its
   * size in pages.
   *
   * @example
   * ```ts
   * import { CorruptImageError } from "@luo/live-update";
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   old.handover(old.allocPreserve(4096));
   * }
   * const next = Arena.open(path);
   * try {
   *   next.claim(next.incomingRoot, 8192, "root table"); // its header says 8 KiB
   * } catch (e) {
   *   console.log(e instanceof CorruptImageError && e.code); // "EBADMSG": 8192 bytes do not fit
   * }
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  claim(pa: bigint, minBytes: number, what: string): number {
    checkAddress(pa);
    return claimBlock(this, pa, minBytes, what);
  }

  /**
   * Frees a handed-over block, restored or not.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * let cache: bigint;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   cache = old.allocPreserve(4096);
   *   old.handover(old.allocPreserve(4096));
   * }
   * const next = Arena.open(path);
   * next.restoreFree(cache); // this version does not read the old cache
   * console.log([...next.regions("handed-over")].length); // 1: the root
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  restoreFree(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `restore_free ${hex(pa)}`, (nt, h) => nt.kho_restore_free(h, pa));
  }

  /**
   * Writes the preserved-memory map and publishes `rootPa` (a preserved
   * block, or `0n` for nothing) in the header. Handed-over blocks nobody
   * restored are freed.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * const old = Arena.create({ path, size: 1 << 20 });
   * const root = old.allocPreserve(4096);
   * old.bytes(root, 5).set(new TextEncoder().encode("state"));
   * old.handover(root);
   * old.close(); // normally: the process exits
   * const next = Arena.open(path);
   * console.log(next.incomingRoot === root, next.info().handovers); // true 1n
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
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
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   old.handover(old.allocPreserve(4096));
   * }
   * let log: bigint;
   * {
   *   using next = Arena.open(path);
   *   next.restore(next.incomingRoot);
   *   log = next.alloc(4096);
   *   next.attach(log);
   * } // closed without a handover, as a crash would
   * const next = Arena.open(path);
   * console.log([...next.regions("handed-over")].some((r) => r.pa === log)); // true
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  attach(pa: bigint): void {
    checkAddress(pa);
    this.#call(() => `attach ${hex(pa)}`, (nt, h) => nt.kho_attach(h, pa));
  }

  /**
   * Gives up the predecessor's image for good: unpublishes it (the handover
   * count is kept) and frees its unclaimed blocks, its map and every
   * deferred free. `ENOENT` when no incoming image is published.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   old.handover(old.allocPreserve(64 * 1024));
   * }
   * const next = Arena.open(path);
   * next.discardIncoming(); // e.g. an image of a version it cannot read
   * console.log(next.incomingRoot, next.info().freePages); // 0n 255
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  discardIncoming(): void {
    this.#call(
      () => `discard incoming image of ${this.path}`,
      (nt, h) => nt.kho_discard_incoming(h),
    );
  }

  /**
   * Page accounting and header state.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * arena.allocPreserve(8192);
   * const { freePages, preservedBlocks, handovers } = arena.info();
   * console.log(freePages, preservedBlocks, handovers); // 253 1 0n
   * ```
   */
  info(): ArenaInfo {
    this.#check(
      this.#native.kho_info(this.#handle, this.#infoBytes),
      () => `info of ${this.path}`,
    );
    return decodeInfo(this.#info);
  }

  /**
   * Root FDT published by the predecessor (`0n` when nothing was handed over).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using first = Arena.create({ path, size: 1 << 20 });
   *   console.log(first.incomingRoot); // 0n: a first start
   *   const root = first.allocPreserve(4096);
   *   first.view(root, 4).setUint32(0, 1, true); // runs so far
   *   first.handover(root);
   * }
   * const next = Arena.open(path);
   * const root = next.incomingRoot; // where the predecessor's state starts
   * next.claim(root, 4, "run counter");
   * console.log(next.view(root, 4).getUint32(0, true)); // 1
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  get incomingRoot(): bigint {
    return this.info().incomingRoot;
  }

  /**
   * Lists blocks of a kind, in address order.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * {
   *   using old = Arena.create({ path, size: 1 << 20 });
   *   old.allocPreserve(8192);
   *   old.handover(old.allocPreserve(4096));
   * }
   * const next = Arena.open(path);
   * const incoming = [...next.regions("handed-over")];
   * console.log(incoming); // [ { pa: 4294971392n, pages: 1 }, { pa: 4294975488n, pages: 2 } ]
   * for (const { pa } of incoming) next.restore(pa);
   * console.log([...next.regions("handed-over")].length); // 0
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  regions(kind: RegionKind): Generator<Region> {
    return listRegions(this, this.size, kind);
  }
}
