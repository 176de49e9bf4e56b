/**
 * The built-in memory file (like Linux's memfd): its bytes live in arena
 * pages, and a successor that retrieves it gets a view of the very same
 * pages: nothing is copied. Its handlers are `./v2.ts` (`"memfd-v2"`, the
 * default) and `./v1.ts` (`"memfd-v1"`, still read).
 *
 * @module
 */

import { KhoError, LuoError, typeOf } from "../../errors.ts";
import { KNOWN_SEALS, SEALS } from "../../format/memfd_v2_ser.ts";
import { type Arena, checkInteger, PAGE_SIZE, type Region } from "../../kho/arena.ts";
import { checkArena } from "../../kho/check_arena.ts";
import { freeRegions } from "../../kho/regions.ts";

/** Most extents one growth of a file takes (ENOMEM past it: the free memory is too scattered). */
export const GROW_EXTENTS = 1024;
/**
 * A growth asks for at least capacity ÷ GROW_DIVISOR more. As much again
 * (1): one growth per doubling, so appends stay linear with few extents
 * (a write walks them); what is past the size is given back at preserve
 * and at a shrink, so the slack is never handed over.
 */
const GROW_DIVISOR = 1;

/**
 * `size` as a file size: `EINVAL` unless a non-negative integer, `EFBIG`
 * when the arena could never hold it (as Linux's `ftruncate` past the
 * largest file).
 */
function fileSize(what: string, size: unknown, arena: Arena): number {
  const n = checkInteger(what, size);
  if (n > arena.size) {
    throw new LuoError("EFBIG", `${what} ${n}: larger than the arena (${arena.size} bytes)`);
  }
  return n;
}

/** @internal Marks a file preserved or not: only the memfd handlers call it. */
export const setPreserved: unique symbol = Symbol("setPreserved");
/** @internal Frees growth slack before a preserve: only the memfd handlers call it. */
export const trimSlack: unique symbol = Symbol("trimSlack");

/**
 * A memory file whose bytes live in arena pages. Preserve it in a session
 * and the successor retrieves the same pages. New bytes are zero.
 *
 * Its pages are a list of extents taken from the arena's free blocks,
 * largest first (`Arena.allocExtents`), so a file of S bytes fits an arena
 * with S bytes free, rounded up to 4 KiB pages: growing it asks for at
 * least as much again as it has (appends stay linear), when that does
 * not fit for half of what is free, and last for exactly what is missing,
 * in at most
 * {@link GROW_EXTENTS} extents per growth. Every page past the size is
 * given back when it shrinks and when it is preserved (the extent holding
 * the last byte is split in place), so a file grown by appends hands over
 * exactly the pages its bytes need. Bytes cut off by a shrink are zeroed.
 * Its handover metadata is 128 bytes (memfd-v2: a
 * slot of a shared descriptor page), plus one 4 KiB extent block per 255
 * extents past the 5 held inline; a live update of one file of S bytes
 * needs an arena of S rounded up to 4 KiB plus 48 KiB.
 *
 * Views from {@link bytes} stay valid until the file is closed or the
 * arena is closed or handed over; after that they are empty (length 0), so
 * that none can write into pages another file gets next. (A view's buffer
 * transferred away with `postMessage` or `structuredClone` cannot be
 * emptied: the file's pages are then never reused in this process.) A
 * view reaches the pages holding bytes when it was taken; a shrink that
 * gives pages back empties the views that reach them first (take a new
 * one); a view it does not reach keeps its length, and bytes past the new
 * size are zeroed if the file grows again.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { MemFile, SEALS } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * const f = MemFile.from(arena, new TextEncoder().encode("state"));
 * console.log(f.size, new TextDecoder().decode(f.bytes()));
 * f.addSeals(SEALS.grow | SEALS.shrink); // its size is fixed from now on
 * ```
 */
export class MemFile {
  /**
   * The arena holding the bytes.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena);
   * console.log(f.arena === arena); // true
   * ```
   */
  readonly arena: Arena;
  #size = 0;
  #pos = 0;
  #extents: Region[] = [];
  /** End offset in the file of each extent (prefix sums), rebuilt after the extents change. */
  #ends: number[] | null = null;
  /**
   * Bytes at the start of the file held by the extents it was retrieved
   * with: the predecessor's published image lists them until this process
   * hands over, so nothing but the user's own writes may change them.
   */
  #inherited = 0;
  #closed = false;
  #preserved = false;
  #seals = 0;
  /**
   * The views {@link bytes} handed out, the latest last (a new one when the
   * file outgrows it: they reach only the pages holding bytes); emptied on
   * close, by {@link dropViews}, or by a shrink that gives back their pages.
   */
  #views: { view: Uint8Array; pa: bigint; span: number }[] = [];

  private constructor(arena: Arena) {
    this.arena = arena;
  }

  /**
   * An empty file, or one of `size` zero bytes (`EINVAL` for a size that is
   * not a non-negative integer, `EFBIG` for one larger than the arena).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena, 10_000);
   * console.log(f.size, f.read(9_998)); // 10000 Uint8Array [0, 0]
   * ```
   */
  static create(arena: Arena, size = 0): MemFile {
    fileSize("memfd size", size, checkArena("memfd create", arena));
    const f = new MemFile(arena);
    f.resize(size);
    return f;
  }

  /**
   * A file holding a copy of `data`, position 0.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * const data = new TextEncoder().encode("state");
   * using f = MemFile.from(arena, data);
   * data[0] = 0; // a copy: the file keeps "state"
   * console.log(new TextDecoder().decode(f.read()), f.position); // "state" 0
   * ```
   */
  static from(arena: Arena, data: Uint8Array): MemFile {
    if (!(data instanceof Uint8Array)) {
      throw new LuoError("EINVAL", `memfd from: data must be a Uint8Array, got ${typeOf(data)}`);
    }
    const f = MemFile.create(arena);
    try {
      f.write(data, 0);
    } catch (e) {
      f.close();
      throw e;
    }
    return f;
  }

  /** @internal Adopts extents restored from a handover. */
  static adopt(arena: Arena, size: number, pos: number, extents: Region[], seals = 0): MemFile {
    const f = new MemFile(arena);
    f.#size = size;
    f.#pos = pos;
    f.#extents = extents;
    f.#seals = seals;
    f.#inherited = f.#capacity();
    return f;
  }

  /**
   * The seals (`SEALS` bits, as Linux's `F_GET_SEALS`); preserved by memfd-v2.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile, SEALS } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena, 4096);
   * f.addSeals(SEALS.grow);
   * console.log(f.seals === SEALS.grow, (f.seals & SEALS.write) === 0); // true true
   * ```
   */
  get seals(): number {
    return this.#seals;
  }

  /**
   * Adds seals (as Linux's `F_ADD_SEALS`): `SEALS.shrink` and `SEALS.grow`
   * fix the size, `SEALS.write`/`SEALS.futureWrite` forbid writes (and new
   * zero-copy views: use {@link read}), `SEALS.seal` forbids more seals.
   * `EINVAL` for unknown bits, `EPERM` once sealed. As Linux refuses
   * `F_SEAL_WRITE` while a writable shared mapping exists, `SEALS.write` is
   * `EBUSY` while a view from {@link bytes} can still write: call
   * {@link dropViews} first. (`SEALS.futureWrite` leaves existing views
   * writable, as Linux leaves existing mappings.)
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { LuoError, MemFile, SEALS } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.from(arena, new TextEncoder().encode("v1 config"));
   * f.addSeals(SEALS.write);
   * try {
   *   f.write(new Uint8Array([0]), 0);
   * } catch (e) {
   *   if (!(e instanceof LuoError && e.code === "EPERM")) throw e;
   * }
   * console.log(new TextDecoder().decode(f.read())); // "v1 config"
   * ```
   */
  addSeals(seals: number): void {
    this.#live();
    checkInteger("memfd seals", seals, 0, KNOWN_SEALS);
    if (this.#seals & SEALS.seal) throw new LuoError("EPERM", "memfd is sealed against new seals");
    // Every view not emptied yet can write (one transferred away too).
    const writable = this.#views.length;
    if (seals & SEALS.write && !(this.#seals & SEALS.write) && writable > 0) {
      throw new LuoError(
        "EBUSY",
        `memfd write seal: ${writable} view(s) from bytes() can still write into the file ` +
          "(as Linux refuses F_SEAL_WRITE while a writable mapping exists): dropViews() first",
      );
    }
    this.#seals |= seals;
  }

  /**
   * Empties every view {@link bytes} handed out (length 0, as {@link close}
   * does), so that none can write into the file any more; the file stays
   * open and {@link bytes} gives new views (unless sealed against writes).
   * `EBUSY` when a view's buffer was transferred away (`postMessage`,
   * `structuredClone`): its memory cannot be taken back.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile, SEALS } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * const f = MemFile.from(arena, new TextEncoder().encode("config"));
   * const view = f.bytes();
   * f.dropViews(); // view.length is 0 from now on
   * f.addSeals(SEALS.write); // nothing can write into the file any more
   * console.log(view.length, new TextDecoder().decode(f.read()));
   * ```
   */
  dropViews(): void {
    this.#live();
    const kept = this.#views.filter((v) => !this.#empty(v.view));
    this.#views = kept;
    if (kept.length > 0) {
      throw new LuoError(
        "EBUSY",
        `memfd: ${kept.length} view(s) from bytes() were transferred away and cannot be emptied`,
      );
    }
  }

  /** Empties a view from {@link bytes}; false when it was transferred away. */
  #empty(view: Uint8Array): boolean {
    return this.arena.revoke(view.buffer as ArrayBuffer);
  }

  #sealed(what: string, bits: number): void {
    if (this.#seals & bits) {
      throw new LuoError("EPERM", `memfd ${what}: sealed (seals 0x${this.#seals.toString(16)})`);
    }
  }

  /**
   * Length in bytes.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.from(arena, new Uint8Array(100));
   * console.log(f.size); // 100
   * ```
   */
  get size(): number {
    return this.#size;
  }

  /**
   * File position (preserved across the handover).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena);
   * f.write(new TextEncoder().encode("log line\n")); // at the position, which advances
   * console.log(f.position); // 9
   * ```
   */
  get position(): number {
    return this.#pos;
  }

  /**
   * Moves the file position (`EINVAL` unless a non-negative integer).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.from(arena, new TextEncoder().encode("abc"));
   * f.position = f.size; // append from here on
   * f.write(new TextEncoder().encode("def"));
   * console.log(new TextDecoder().decode(f.read())); // "abcdef"
   * ```
   */
  set position(p: number) {
    this.#pos = checkInteger("memfd position", p);
  }

  /**
   * Whether the file is preserved in a session (then its size is fixed).
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const f = MemFile.create(luo.arena, 10);
   * luo.createSession("svc").preserve(f, 1n);
   * console.log(f.preserved); // true
   * ```
   */
  get preserved(): boolean {
    return this.#preserved;
  }

  /** @internal */
  [trimSlack](): void {
    this.#trimTo(this.#size, false);
  }

  /**
   * Frees the pages past `size` bytes (rounded up to a page): the extents
   * wholly past it, and the tail of the one holding the last byte. Views
   * from {@link bytes} that reach those pages are emptied first when
   * `revoke` (else nothing is freed); one that cannot be emptied
   * (transferred away) keeps every page.
   */
  #trimTo(size: number, revoke: boolean): void {
    const end = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    const keep = end === 0 ? 0 : this.#extentAt(end - 1) + 1; // the extents holding bytes
    const start = keep === 0 ? 0 : this.#endsOf()[keep - 1]; // where the first one to free starts
    if (keep === this.#extents.length && start === end) return;
    // Views map the file from offset 0: one longer than `end` reaches a page to free.
    const reaching = this.#views.filter((v) => v.span > end);
    if (reaching.length > 0 && !revoke) return;
    const emptied = reaching.filter((v) => this.#empty(v.view));
    this.#views = this.#views.filter((v) => !emptied.includes(v));
    if (emptied.length < reaching.length) return; // one was transferred away: its pages stay
    freeRegions(this.arena, this.#extents.slice(keep));
    this.#extents.length = keep;
    this.#ends = null;
    if (start > end) this.#trimLast((start - end) / PAGE_SIZE);
    this.#inherited = Math.min(this.#inherited, this.#capacity());
  }

  /** Gives back the last `pages` pages of the last extent (one buddy block: split in place). */
  #trimLast(pages: number): void {
    const last = this.#extents[this.#extents.length - 1];
    try {
      this.#extents.splice(-1, 1, ...this.arena.trim(last.pa, last.pages - pages));
      this.#ends = null;
    } catch (e) {
      // Listed in the predecessor's published image (a retrieved file): it stays whole.
      if (!(e instanceof KhoError) || e.code !== "EBUSY") throw e;
    }
  }

  /** @internal */
  [setPreserved](on: boolean): void {
    this.#preserved = on;
  }

  /**
   * The page blocks holding the bytes, in order.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena, 5000);
   * console.log(f.extents.length, f.extents[0].pages); // 1 2: 5000 bytes take two pages
   * ```
   */
  get extents(): readonly Region[] {
    return this.#extents;
  }

  #capacity(): number {
    const ends = this.#endsOf();
    return ends.length === 0 ? 0 : ends[ends.length - 1];
  }

  /** The extent holding byte `at` (binary search: a read or write costs log(extents)); the count when none does. */
  #extentAt(at: number): number {
    const ends = this.#endsOf();
    let k = 0;
    for (let hi = ends.length; k < hi;) {
      const mid = (k + hi) >>> 1;
      if (ends[mid] <= at) k = mid + 1;
      else hi = mid;
    }
    return k;
  }

  #endsOf(): number[] {
    if (this.#ends === null) {
      let end = 0;
      this.#ends = this.#extents.map((e) => end += e.pages * PAGE_SIZE);
    }
    return this.#ends;
  }

  #live(): void {
    if (this.#closed) throw new LuoError("EBADF", "memfd is closed");
  }

  /**
   * Adds extents so that `size` bytes fit: at least the capacity again
   * (GROW_DIVISOR), else half of what is free, else exactly what is missing. The
   * added capacity past `size` is zeroed (the pages may hold a freed file's
   * bytes, and the last page is handed over whole); the caller fills
   * `[old size, size)`.
   */
  #grow(size: number): void {
    const have = this.#capacity();
    if (size <= have) return;
    const need = size - have;
    const more = Math.ceil(have / GROW_DIVISOR / PAGE_SIZE) * PAGE_SIZE;
    // When the capacity again does not fit: half of what is free, so that appends near a full
    // arena still take one growth per halving of the free space; last, exactly what is missing.
    const half = () => Math.floor(this.arena.info().freePages / 2) * PAGE_SIZE;
    const added = this.#allocFirst([
      () => Math.max(need, more),
      () => Math.max(need, half()),
      () => need,
    ]);
    this.#extents.push(...added);
    this.#ends = null;
    const end = this.#capacity();
    if (end > size) this.#forEachChunk(size, end - size, (b) => b.fill(0));
  }

  /** Extents for the first of `sizes` that fits (`ENOMEM` from the last one otherwise). */
  #allocFirst(sizes: readonly (() => number)[]): Region[] {
    const options = { maxExtents: GROW_EXTENTS };
    for (let k = 0;; k++) {
      try {
        return this.arena.allocExtents(sizes[k](), options);
      } catch (e) {
        if (!(e instanceof KhoError) || e.code !== "ENOMEM" || k === sizes.length - 1) throw e;
      }
    }
  }

  /**
   * Changes the size; new bytes are zero. `EPERM` while preserved, `EFBIG` past the arena's size.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.from(arena, new Uint8Array([1, 2, 3]));
   * f.resize(1);
   * f.resize(4);
   * console.log(f.read()); // Uint8Array [1, 0, 0, 0]
   * ```
   */
  resize(size: number): void {
    this.#live();
    fileSize("memfd size", size, this.arena);
    if (size === this.#size) return;
    this.#sealed(
      size < this.#size ? "shrink" : "grow",
      size < this.#size ? SEALS.shrink : SEALS.grow,
    );
    if (this.#preserved) {
      throw new LuoError(
        "EPERM",
        `memfd of ${this.#size} bytes is preserved: its size cannot change`,
      );
    }
    if (size < this.#size) {
      this.#trimTo(size, true);
      // Bytes past the new size that its pages still hold are gone, as with ftruncate,
      // except in pages the predecessor's image still lists (a crash must find them intact).
      const from = Math.max(size, this.#inherited);
      const kept = Math.min(this.#size, this.#capacity());
      if (kept > from) this.#forEachChunk(from, kept - from, (b) => b.fill(0));
    }
    this.#grow(size);
    if (size > this.#size) this.#forEachChunk(this.#size, size - this.#size, (b) => b.fill(0));
    this.#size = size;
  }

  #forEachChunk(at: number, len: number, fn: (chunk: Uint8Array, done: number) => void): void {
    const ends = this.#endsOf();
    for (let k = this.#extentAt(at), done = 0; k < ends.length && done < len; k++) {
      const e = this.#extents[k];
      const start = at + done - (ends[k] - e.pages * PAGE_SIZE);
      const n = Math.min(ends[k] - (at + done), len - done);
      fn(this.arena.bytes(e.pa + BigInt(start), n), done);
      done += n;
    }
  }

  /**
   * Writes `data` at `at` (default: the position, which then advances),
   * growing the file (the gap, if any, is zero). Returns the bytes written.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena);
   * f.write(new Uint8Array([9]), 2); // at offset 2: bytes 0 and 1 are zero
   * console.log(f.read(), f.position); // Uint8Array [0, 0, 9] 0
   * ```
   */
  write(data: Uint8Array, at?: number): number {
    this.#live();
    if (!(data instanceof Uint8Array)) {
      throw new LuoError("EINVAL", `memfd write: data must be a Uint8Array, got ${typeOf(data)}`);
    }
    const pos = at === undefined ? this.#pos : checkInteger("memfd write offset", at);
    this.#sealed("write", SEALS.write | SEALS.futureWrite);
    const end = pos + data.length;
    if (end > this.arena.size) {
      throw new LuoError(
        "EFBIG",
        `memfd write of ${data.length} bytes at offset ${pos}: it would end at ${end}, ` +
          `past the largest file the arena holds (${this.arena.size} bytes)`,
      );
    }
    if (end > this.#size) this.resize(end);
    this.#forEachChunk(
      pos,
      data.length,
      (chunk, done) => chunk.set(data.subarray(done, done + chunk.length)),
    );
    if (at === undefined) this.#pos = end;
    return data.length;
  }

  /**
   * Copies `len` bytes from `at` into a new array (`EINVAL` outside the file).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.from(arena, new TextEncoder().encode("hello world"));
   * console.log(new TextDecoder().decode(f.read(6, 5))); // "world"
   * ```
   */
  read(at: number = 0, len?: number): Uint8Array {
    this.#live();
    checkInteger("memfd read offset", at, 0, this.#size);
    const n = len === undefined ? this.#size - at : checkInteger("memfd read length", len);
    if (at + n > this.#size) {
      throw new LuoError("EINVAL", `read ${at}+${n} outside memfd of ${this.#size} bytes`);
    }
    const out = new Uint8Array(n);
    this.#forEachChunk(at, n, (chunk, done) => out.set(chunk, done));
    return out;
  }

  /**
   * Zero-copy view of the whole contents: the extents that hold them must
   * follow each other in the arena (they usually do: a file's extents are
   * taken in address order); `EINVAL` when they do not, `EPERM` when
   * write-sealed (use {@link read} for both).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using f = MemFile.create(arena, 4);
   * f.bytes().set([1, 2, 3, 4]); // writes straight into the arena's pages
   * console.log(f.read()); // Uint8Array [1, 2, 3, 4]
   * ```
   */
  bytes(): Uint8Array {
    this.#live();
    this.#sealed("writable view", SEALS.write | SEALS.futureWrite);
    if (this.#extents.length === 0 || this.#size === 0) return new Uint8Array(0);
    const first = this.#extents[0];
    let end = first.pa;
    for (const [k, e] of this.#extents.entries()) {
      if (end - first.pa >= BigInt(this.#size)) break;
      if (e.pa !== end) {
        throw new LuoError(
          "EINVAL",
          `memfd extent ${k} does not follow extent ${
            k - 1
          } in the arena: no single view; use read()`,
        );
      }
      end += BigInt(e.pages * PAGE_SIZE);
    }
    if (this.#views.at(-1)?.pa !== first.pa || this.#views.at(-1)!.view.length < this.#size) {
      // Up to the last page holding bytes: a shrink or preserve may give back what is past it.
      const span = Math.min(Number(end - first.pa), Math.ceil(this.#size / PAGE_SIZE) * PAGE_SIZE);
      this.#views.push({ view: this.arena.ownView(first.pa, span), pa: first.pa, span });
    }
    return this.#views.at(-1)!.view.subarray(0, this.#size);
  }

  /**
   * Maps the pages that hold the contents in bulk (`Arena.populate`), so
   * that reading (or, with `write`, writing) them takes no page fault per
   * page. A retrieve does it for files over 64 KiB unless the live update
   * says not to (`memfdPopulate: false`).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 4 << 20 });
   * using f = MemFile.create(arena, 1 << 20);
   * f.populate({ write: true }); // the next 1 MiB of writes take no page fault
   * f.write(new Uint8Array(1 << 20).fill(7), 0);
   * ```
   */
  populate(options: { write?: boolean } = {}): void {
    this.#live();
    const regions: Region[] = [];
    for (let k = 0, left = this.#size; k < this.#extents.length && left > 0; k++) {
      const e = this.#extents[k];
      const pages = Math.min(e.pages, Math.ceil(left / PAGE_SIZE));
      regions.push({ pa: e.pa, pages });
      left -= pages * PAGE_SIZE;
    }
    this.arena.populate(regions, options);
  }

  /**
   * Frees the pages. `EBUSY` while preserved. Idempotent.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { MemFile } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * const f = MemFile.create(arena, 4096);
   * f.close();
   * console.log(arena.info().allocatedPages); // 0: its page is free again
   * ```
   */
  close(): void {
    if (this.#closed) return;
    if (this.#preserved) {
      throw new LuoError("EBUSY", "memfd is preserved: unpreserve it before closing");
    }
    // A view transferred away cannot be emptied: its pages are never reused then.
    let revoked = true;
    if (!this.arena.closed) {
      for (const v of this.#views) {
        if (!this.#empty(v.view)) revoked = false;
      }
    }
    if (!this.arena.closed && revoked) freeRegions(this.arena, this.#extents);
    this.#views = [];
    this.#extents = [];
    this.#ends = null;
    this.#closed = true;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
