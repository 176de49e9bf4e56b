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
 * {@link Arena}, which is what users create and open.
 */
export class ArenaMemory {
  /** Path of the arena file. */
  readonly path: string;
  /** Size of the arena in bytes. */
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

  /** Whether the arena was closed. */
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
  ownView(pa: bigint, len: number): { view: Uint8Array; ref: WeakRef<ArrayBuffer> } {
    this.live();
    const off = this.offsetOf(pa, len);
    const buffer = len === 0
      ? new ArrayBuffer(0)
      : Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.offset(this.#base, off)!, len);
    return { view: new Uint8Array(buffer), ref: this.#buffers.track(buffer) };
  }

  /**
   * @internal Empties a view from {@link ownView}; false when its buffer
   * was transferred away by its user.
   */
  revoke(ref: WeakRef<ArrayBuffer>): boolean {
    return this.#buffers.revoke(ref);
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
    this.live();
    const off = this.offsetOf(pa, len);
    return this.#bytes.subarray(off, off + len);
  }

  /** Zero-copy `DataView` of [pa, pa+len). */
  view(pa: bigint, len: number): DataView {
    this.live();
    return new DataView(this.#buffer, this.offsetOf(pa, len), len);
  }

  /** The whole arena as bytes (offset 0 = {@link PHYS_BASE}). */
  get memory(): Uint8Array {
    this.live();
    return this.#bytes;
  }

  /** The whole arena as a `DataView` (offset 0 = {@link PHYS_BASE}). */
  get dataView(): DataView {
    this.live();
    return this.#dataView;
  }

  /** The whole arena as 32-bit words (index = byte offset / 4; host byte order, little-endian). */
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
