/**
 * The mapped memory of an open arena: zero-copy views by physical
 * address, the bounds checks behind them, and their revocation when the
 * arena closes (see collector.ts). `Arena` (arena.ts) adds the native
 * calls on top.
 *
 * @module
 */

import { KhoError } from "../errors.ts";
import { checkInteger } from "./check_integer.ts";
import { ArenaBuffers } from "./collector.ts";
import { withPermission } from "./permission.ts";
import { hex, PHYS_BASE } from "./physical.ts";

/** {@link PHYS_BASE} as a double (exact). */
const PHYS_BASE_NUMBER = Number(PHYS_BASE);

/**
 * The memory of an open arena, addressed by physical address: the base of
 * {@link Arena}, which is what users create and open. Code that only
 * reads and writes memory can take an `ArenaMemory`.
 *
 * @example
 * ```ts
 * import { Arena, type ArenaMemory } from "@luo/live-update/kho";
 * function writeText(memory: ArenaMemory, pa: bigint, text: string): number {
 *   const bytes = new TextEncoder().encode(text);
 *   memory.bytes(pa, bytes.length).set(bytes);
 *   return bytes.length;
 * }
 * using arena = Arena.create({ size: 1 << 20 });
 * const pa = arena.alloc(4096);
 * const n = writeText(arena, pa, "hello");
 * console.log(new TextDecoder().decode(arena.bytes(pa, n))); // "hello"
 * ```
 */
export class ArenaMemory {
  /**
   * Path of the arena file: what the successor opens.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const arena = Arena.create({ size: 1 << 20 }); // a temporary file
   * arena.handover(arena.allocPreserve(4096)); // now kept for the successor
   * arena.close();
   * const next = Arena.open(arena.path);
   * console.log(next.incomingRoot !== 0n); // true
   * next.close();
   * Deno.removeSync(next.path);
   * ```
   */
  readonly path: string;
  /**
   * Size of the arena in bytes, the header page included.
   *
   * @example
   * ```ts
   * import { Arena, KhoError, PAGE_SIZE } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * console.log(arena.size, arena.size / PAGE_SIZE); // 1048576 256
   * try {
   *   arena.alloc(arena.size); // the header page is never free
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "ENOMEM"
   * }
   * ```
   */
  readonly size: number;
  #base: Deno.PointerObject;
  #buffer: ArrayBuffer;
  #bytes: Uint8Array;
  #dataView: DataView;
  #words: Int32Array;
  #buffers = new ArenaBuffers();
  #closed = false;

  /** The `size` bytes mapped at `base` for the arena file at `path`. */
  protected constructor(path: string, size: number, base: Deno.PointerObject) {
    this.path = path;
    this.size = size;
    this.#base = base;
    this.#buffer = withPermission(
      `mapping arena ${path} into JavaScript (a path-scoped --allow-ffi=PATH is not enough)`,
      () => Deno.UnsafePointerView.getArrayBuffer(base, size),
    );
    this.#buffers.track(this.#buffer);
    this.#bytes = new Uint8Array(this.#buffer);
    this.#dataView = new DataView(this.#buffer);
    this.#words = new Int32Array(this.#buffer);
  }

  /**
   * Whether the arena was closed: its views are then empty, and its
   * memory and native calls throw `EBADF`.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * const arena = Arena.create({ size: 1 << 20 });
   * console.log(arena.closed); // false
   * arena.close();
   * console.log(arena.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Marks the arena closed and empties every view of its memory. Returns
   * false when a view's buffer was transferred away by its user: that
   * memory may still be reachable, so it must stay mapped.
   */
  protected revokeAll(): boolean {
    this.#closed = true;
    return this.#buffers.revokeAll();
  }

  /** `EBADF` unless the arena is open and its memory still here. */
  protected live(): void {
    if (this.#closed) throw new KhoError("EBADF", `arena ${this.path} is closed`);
    if (this.#buffer.detached) {
      throw new KhoError(
        "EBADF",
        `arena ${this.path}: its memory was transferred away (an ArrayBuffer transfer of one of its views)`,
      );
    }
  }

  /**
   * @internal A zero-copy view of [pa, pa+len) on a buffer of its own,
   * revoked (made empty) by {@link revoke} or when the arena closes: what a
   * memory file hands out, so that closing the file empties its views
   * before its pages are reused.
   */
  ownView(pa: bigint, len: number): Uint8Array {
    this.live();
    const off = this.offsetOf(pa, len);
    const buffer = len === 0
      ? new ArrayBuffer(0)
      : Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.offset(this.#base, off)!, len);
    this.#buffers.track(buffer);
    return new Uint8Array(buffer);
  }

  /**
   * @internal Empties the views over `buffer` (the buffer of a view from
   * {@link ownView}); false when it was transferred away by its user.
   */
  revoke(buffer: ArrayBuffer): boolean {
    return this.#buffers.revoke(buffer);
  }

  /**
   * Byte offset in the arena of [pa, pa+len), validated (`EINVAL` naming
   * what is wrong): an index into {@link memory} and {@link dataView}
   * (divided by 4, {@link words}).
   *
   * @example
   * ```ts
   * import { Arena, KhoError } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(4096);
   * const off = arena.offsetOf(pa, 4096);
   * arena.memory[off] = 42;
   * console.log(off, arena.bytes(pa, 1)[0]); // 4096 42
   * try {
   *   arena.offsetOf(pa, arena.size);
   * } catch (e) {
   *   console.log(e instanceof KhoError && e.code); // "EINVAL"
   * }
   * ```
   */
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

  /**
   * True when [pa, pa+len) lies inside the arena.
   *
   * @example
   * ```ts
   * import { Arena, PHYS_BASE } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * // An address read from data: check it before taking a view.
   * const pa = PHYS_BASE + 0x2000n;
   * console.log(arena.contains(pa, 4096), arena.contains(pa, arena.size)); // true false
   * console.log(arena.contains(0n)); // false: 0n is never an arena address
   * ```
   */
  contains(pa: bigint, len = 1): boolean {
    const off = typeof pa === "bigint" ? Number(pa) - PHYS_BASE_NUMBER : NaN;
    if (Number.isNaN(off) || !Number.isInteger(len)) {
      checkAddress(pa);
      checkInteger("length", len);
    }
    return off >= 0 && len >= 0 && off + len <= this.size;
  }

  /**
   * Zero-copy bytes of [pa, pa+len).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(4096);
   * const text = new TextEncoder().encode("zero-copy");
   * arena.bytes(pa, text.length).set(text);
   * console.log(new TextDecoder().decode(arena.bytes(pa, text.length))); // "zero-copy"
   * ```
   */
  bytes(pa: bigint, len: number): Uint8Array {
    this.live();
    const off = this.offsetOf(pa, len);
    return this.#bytes.subarray(off, off + len);
  }

  /**
   * Zero-copy `DataView` of [pa, pa+len).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(4096);
   * const record = arena.view(pa, 16);
   * record.setUint32(0, 0xfeed, true);
   * record.setBigUint64(8, 123n, true);
   * console.log(arena.view(pa + 8n, 8).getBigUint64(0, true)); // 123n
   * ```
   */
  view(pa: bigint, len: number): DataView {
    this.live();
    return new DataView(this.#buffer, this.offsetOf(pa, len), len);
  }

  /**
   * The whole arena as bytes (offset 0 = {@link PHYS_BASE}).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * // Page 0 is the arena header; it starts with its magic number.
   * console.log(new TextDecoder().decode(arena.memory.subarray(0, 8))); // "KHOARENA"
   * ```
   */
  get memory(): Uint8Array {
    this.live();
    return this.#bytes;
  }

  /**
   * The whole arena as a `DataView` (offset 0 = {@link PHYS_BASE}).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * // The header's u32 page size at offset 12 and u64 size at 16 (SPEC: the arena file layout).
   * const header = arena.dataView;
   * console.log(header.getUint32(12, true), header.getBigUint64(16, true)); // 4096 1048576n
   * ```
   */
  get dataView(): DataView {
    this.live();
    return this.#dataView;
  }

  /**
   * The whole arena as 32-bit words (index = byte offset / 4; host byte
   * order, little-endian).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * using arena = Arena.create({ size: 1 << 20 });
   * const pa = arena.alloc(4096);
   * const i = arena.offsetOf(pa, 4) / 4;
   * arena.words[i] = -1;
   * console.log(arena.bytes(pa, 4)); // Uint8Array(4) [ 255, 255, 255, 255 ]
   * ```
   */
  get words(): Int32Array {
    this.live();
    return this.#words;
  }
}

/** Throws `EINVAL` unless `pa` is a bigint in the u64 range (a physical address). */
export function checkAddress(pa: unknown): void {
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
