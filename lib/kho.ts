/**
 * Typed wrapper of the native arena ("physical memory"): physical addresses
 * as `bigint`, zero-copy views over regions, native error codes as
 * {@link KhoError}s, cleanup with `using`.
 *
 * This is the only module that touches raw pointers.
 *
 * @module
 */

import { codeOfNative, KhoError } from "./errors.ts";
import { loadNative, type Native } from "./ffi.ts";

/** Bytes per page of every arena. */
export const PAGE_SIZE = 4096;
/** Physical address of arena file offset 0 (fixed, non-zero). */
export const PHYS_BASE = 0x1_0000_0000n;
/** Pages of the power-of-two block the allocator gives for `bytes` (at least one). */
export function blockPages(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(bytes / PAGE_SIZE))));
}

/** Default arena directory: $LUO_ARENA_DIR, else /dev/shm when present, else $TMPDIR or /tmp. */
export function defaultArenaDir(): string {
  const dir = Deno.env.get("LUO_ARENA_DIR");
  if (dir) return dir;
  try {
    if (Deno.statSync("/dev/shm").isDirectory) return "/dev/shm";
  } catch { /* no /dev/shm */ }
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

/** Byte written over unpreserved pages in poison mode. */
export const POISON_BYTE = 0xa5;

const FLAG_POISON = 1;
const FLAG_READ_ONLY = 2;
const FLAG_DISCARD = 4;
const FLAG_SYNC = 8;

/** Options common to creating and opening an arena. */
export interface ArenaOptions {
  /** Path of the native library (else `$LUO_NATIVE_LIB`, else the local build). */
  library?: string;
  /** Fill pages that are freed or were not preserved with {@link POISON_BYTE}. */
  poison?: boolean;
  /**
   * msync the map and the header at handover so that the handover also
   * survives a host crash (default off: a live update survives the exit of
   * the predecessor, which needs no flush).
   */
  sync?: boolean;
}

/** Options of {@link Arena.create}. */
export interface CreateOptions extends ArenaOptions {
  /** Arena size in bytes, a multiple of {@link PAGE_SIZE}. Default 64 MiB. */
  size?: number;
  /** File to create (must not exist). Default: a fresh file in the temp dir. */
  path?: string;
}

/** Options of {@link Arena.open}. */
export interface OpenOptions extends ArenaOptions {
  /** Map privately and never write the file; no lock is taken. For inspection. */
  readOnly?: boolean;
  /** Ignore whatever was handed over: every page is free. */
  discard?: boolean;
}

/** Page accounting and header state of an open arena. */
export interface ArenaInfo {
  /** Arena size in bytes. */
  size: number;
  /** Physical address of offset 0. */
  physBase: bigint;
  /** Page size in bytes. */
  pageSize: number;
  /** Total pages, including the header page. */
  pages: number;
  /** Pages on the free lists. */
  freePages: number;
  /** Pages owned by this process (preserved or not). */
  allocatedPages: number;
  /** Pages marked preserved. */
  preservedPages: number;
  /** Blocks marked preserved. */
  preservedBlocks: number;
  /** Pages handed over by the predecessor and not restored yet. */
  handedOverPages: number;
  /** Blocks handed over by the predecessor and not restored yet. */
  handedOverBlocks: number;
  /** Allocations made since open. */
  allocations: number;
  /** Root FDT the predecessor published (0n: nothing handed over). */
  incomingRoot: bigint;
  /** Handovers this arena file has seen. */
  handovers: number;
  /**
   * Pages freed while the predecessor's state is still the published one:
   * parked (not reusable) until this process hands over or releases that
   * state, so that a crash before then leaves it intact.
   */
  deferredPages: number;
}

/** A block of pages: its physical address and size in pages. */
export interface Region {
  /** Physical address of the first page. */
  pa: bigint;
  /** Number of pages. */
  pages: number;
}

/** Which regions {@link Arena.regions} lists. */
export type RegionKind = "handed-over" | "preserved" | "allocated";
const REGION_KIND: Record<RegionKind, number> = { "handed-over": 0, preserved: 1, allocated: 2 };

const INFO_FIELDS = 15;

const finalizer = new FinalizationRegistry<{ native: Native; handle: number }>((h) => {
  h.native.kho_close(h.handle);
});

function tempArenaPath(): string {
  const dir = defaultArenaDir();
  return `${dir}/luo-${Deno.pid}-${crypto.randomUUID()}.arena`;
}

/**
 * An open arena. Create one with {@link Arena.create} (fresh) or
 * {@link Arena.open} (a predecessor's). Release it with `using` or
 * {@link Arena.close}; a forgotten arena is closed when collected.
 *
 * @example
 * ```ts
 * import { Arena } from "./kho.ts";
 * using arena = Arena.create({ size: 1 << 20 });
 * const pa = arena.allocPreserve(8192);
 * arena.bytes(pa, 5).set([1, 2, 3, 4, 5]);
 * arena.handover(pa);
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
  #info = new BigUint64Array(INFO_FIELDS);
  #infoBytes = new Uint8Array(this.#info.buffer);
  #outBytes = new Uint8Array(this.#out.buffer);
  #closed = false;
  #token = {};

  private constructor(native: Native, handle: number, path: string) {
    this.#native = native;
    this.#handle = handle;
    this.path = path;
    const info = this.info();
    this.size = info.size;
    const base = native.kho_base(handle);
    if (base === null) throw new KhoError("EBADF", `arena ${path}: no mapping`);
    this.#buffer = Deno.UnsafePointerView.getArrayBuffer(base, this.size);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#dataView = new DataView(this.#buffer);
    this.#words = new Int32Array(this.#buffer);
    finalizer.register(this, { native, handle }, this.#token);
  }

  /** Creates a new arena file (mode 0600) and maps it. */
  static create(options: CreateOptions = {}): Arena {
    const native = loadNative(options.library);
    const path = options.path ?? tempArenaPath();
    const size = options.size ?? 64 * 1024 * 1024;
    const out = new Uint32Array(1);
    const p = new TextEncoder().encode(path);
    const rc = native.kho_create(
      p,
      BigInt(p.length),
      BigInt(size),
      (options.poison ? FLAG_POISON : 0) | (options.sync ? FLAG_SYNC : 0),
      out,
    );
    check(rc, () => `create arena ${path} of ${size} bytes`);
    return new Arena(native, out[0], path);
  }

  /**
   * Opens an existing arena. A live holder makes this fail with `EBUSY`; a
   * damaged preserved-memory map with `EBADMSG` (open with `discard` to start
   * empty instead).
   */
  static open(path: string, options: OpenOptions = {}): Arena {
    const native = loadNative(options.library);
    lastNative = native;
    const flags = (options.poison ? FLAG_POISON : 0) | (options.readOnly ? FLAG_READ_ONLY : 0) |
      (options.discard ? FLAG_DISCARD : 0) | (options.sync ? FLAG_SYNC : 0);
    const out = new Uint32Array(1);
    const p = new TextEncoder().encode(path);
    check(native.kho_open(p, BigInt(p.length), flags, out), () => `open arena ${path}`, native);
    return new Arena(native, out[0], path);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Unmaps and unlocks the arena; views taken from it become empty. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    finalizer.unregister(this.#token);
    // Detach the buffer so that no view can reach the unmapped memory.
    this.#buffer.transfer(0);
    check(this.#native.kho_close(this.#handle), () => `close arena ${this.path}`);
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): void {
    if (this.#closed) throw new KhoError("EBADF", `arena ${this.path} is closed`);
  }

  /** Allocates a block of at least `size` bytes (contents undefined). */
  alloc(size: number): bigint {
    this.#live();
    check(
      this.#native.kho_alloc(this.#handle, BigInt(size), this.#outBytes),
      () => `alloc ${size} bytes`,
    );
    return this.#out[0];
  }

  /** Frees a block from {@link alloc} that is not preserved. */
  free(pa: bigint): void {
    this.#live();
    check(this.#native.kho_free(this.#handle, pa), () => `free ${hex(pa)}`);
  }

  /** Allocates a block and marks it preserved: it survives the handover. */
  allocPreserve(size: number): bigint {
    this.#live();
    check(
      this.#native.kho_alloc_preserve(this.#handle, BigInt(size), this.#outBytes),
      () => `alloc_preserve ${size} bytes`,
    );
    return this.#out[0];
  }

  /** Unpreserves and frees a block. */
  unpreserveFree(pa: bigint): void {
    this.#live();
    check(this.#native.kho_unpreserve_free(this.#handle, pa), () => `unpreserve_free ${hex(pa)}`);
  }

  /** Marks an allocated block of `size` bytes preserved. */
  preserve(pa: bigint, size: number): void {
    this.#live();
    check(this.#native.kho_preserve(this.#handle, pa, BigInt(size)), () => `preserve ${hex(pa)}`);
  }

  /** Clears the preserved mark of a block. */
  unpreserve(pa: bigint, size: number): void {
    this.#live();
    check(
      this.#native.kho_unpreserve(this.#handle, pa, BigInt(size)),
      () => `unpreserve ${hex(pa)}`,
    );
  }

  /** Claims a block the predecessor handed over; returns its size in pages. */
  restore(pa: bigint): number {
    this.#live();
    check(this.#native.kho_restore(this.#handle, pa, this.#outBytes), () => `restore ${hex(pa)}`);
    return Number(this.#out[0]);
  }

  /** Frees a handed-over block, restored or not. */
  restoreFree(pa: bigint): void {
    this.#live();
    check(this.#native.kho_restore_free(this.#handle, pa), () => `restore_free ${hex(pa)}`);
  }

  /**
   * Writes the preserved-memory map and publishes `rootPa` (a preserved
   * block, or `0n` for nothing) in the header. Handed-over blocks nobody
   * restored are freed.
   */
  handover(rootPa: bigint): void {
    this.#live();
    check(this.#native.kho_handover(this.#handle, rootPa), () => `handover of root ${hex(rootPa)}`);
  }

  /**
   * Declares the predecessor's state consumed: unpublishes it and frees the
   * native map blocks. `EBUSY` while any handed-over block is unclaimed.
   */
  releaseIncoming(): void {
    this.#live();
    check(
      this.#native.kho_release_incoming(this.#handle),
      () => `release incoming state of ${this.path}`,
    );
  }

  /** Native memcpy of `len` bytes inside the arena (a benchmark baseline). */
  copy(dst: bigint, src: bigint, len: number): void {
    this.#live();
    check(this.#native.kho_copy(this.#handle, dst, src, BigInt(len)), () => `copy ${len} bytes`);
  }

  /** Fault injection: the `n`th allocation from now fails with `ENOMEM` (0 disables). */
  failAllocAfter(n: number): void {
    this.#live();
    check(this.#native.kho_fail_alloc_after(this.#handle, BigInt(n)), () => "fail_alloc_after");
  }

  /** Page accounting and header state. */
  info(): ArenaInfo {
    const out = this.#info;
    check(this.#native.kho_info(this.#handle, this.#infoBytes), () => `info of ${this.path}`);
    const n = (i: number) => Number(out[i]);
    return {
      size: n(0),
      physBase: out[1],
      pageSize: n(2),
      pages: n(3),
      freePages: n(4),
      allocatedPages: n(5),
      preservedPages: n(6),
      preservedBlocks: n(7),
      handedOverPages: n(8),
      handedOverBlocks: n(9),
      allocations: n(10),
      incomingRoot: out[11],
      handovers: n(12),
      deferredPages: n(14),
    };
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
      if (rc === -2) return;
      check(rc, () => `list ${kind} regions`);
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
    return this.#bytes.subarray(this.offsetOf(pa, len), this.offsetOf(pa, len) + len);
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

function hex(pa: bigint): string {
  return "0x" + pa.toString(16);
}

let lastNative: Native | null = null;

/** Throws the typed error of a native return code; `what` names the call (built only on failure). */
function check(rc: number, what: () => string, native: Native | null = lastNative): void {
  if (rc === 0) return;
  const code = codeOfNative(rc);
  let detail = "";
  if (native && (code === "EBADMSG" || code === "EPROTO" || code === "ENOEXEC")) {
    const buf = new Uint8Array(256);
    const n = Number(native.kho_last_error(buf, 256n));
    if (n > 0) detail = `: ${new TextDecoder().decode(buf.subarray(0, n))}`;
  }
  throw new KhoError(code, `${what()} failed (${MEANING[code] ?? "native error " + rc})${detail}`);
}

const MEANING: Partial<Record<string, string>> = {
  EPERM: "not permitted: the arena is open read-only",
  ENOENT: "no such file or region",
  EIO: "I/O error",
  ENOEXEC: "not an arena file",
  EBADF: "arena handle is not open",
  ENOMEM: "out of arena memory",
  EBUSY: "busy: preserved, or the arena is held by a live process",
  EEXIST: "already exists or already preserved",
  EINVAL: "invalid argument: unaligned, out of range or wrong state",
  ENOSPC: "no space",
  EPROTO: "unsupported arena version",
  EBADMSG: "damaged arena data",
};
