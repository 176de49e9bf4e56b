/**
 * The built-in memory file (like Linux's memfd) and its handler,
 * compatible `"memfd-v1"`. A {@link MemFile}'s bytes live in arena pages;
 * the successor gets a view of the very same pages: nothing is copied.
 * The serialized form is in `format/memfd_ser.ts`.
 *
 * @module
 */

import { KhoError, LuoError, typeOf } from "../errors.ts";
import { BlockChain } from "../format/block.ts";
import {
  EXTENT_CHAIN,
  MEMFD_DESCRIPTOR_BYTES,
  MEMFD_V1,
  readExtents,
  readMemfdDescriptor,
  writeExtents,
  writeMemfdDescriptor,
} from "../format/memfd_ser.ts";
import { type Arena, checkInteger, PAGE_SIZE, type Region } from "../kho/arena.ts";
import type { FileDescription, FileHandler, HandlerContext, IncomingFile } from "../luo/handler.ts";

/** Marks a file preserved or not; module-private (only the handler below calls it). */
const setPreserved = Symbol("setPreserved");

/**
 * A memory file whose bytes live in arena pages. Preserve it in a session
 * and the successor retrieves the same pages. New bytes are zero.
 *
 * Views from {@link bytes} stay valid until the file is closed or the
 * arena is closed or handed over; after that they are empty (length 0).
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { MemFile } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * const f = MemFile.from(arena, new TextEncoder().encode("state"));
 * console.log(f.size, new TextDecoder().decode(f.bytes()));
 * ```
 */
export class MemFile {
  /** The arena holding the bytes. */
  readonly arena: Arena;
  #size = 0;
  #pos = 0;
  #extents: Region[] = [];
  #closed = false;
  #preserved = false;

  private constructor(arena: Arena) {
    this.arena = arena;
  }

  /** An empty file, or one of `size` zero bytes (`EINVAL` for a size that is not an integer). */
  static create(arena: Arena, size = 0): MemFile {
    checkInteger("memfd size", size, 0, arena.size);
    const f = new MemFile(arena);
    f.resize(size);
    return f;
  }

  /** A file holding a copy of `data`, position 0. */
  static from(arena: Arena, data: Uint8Array): MemFile {
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
  static adopt(arena: Arena, size: number, pos: number, extents: Region[]): MemFile {
    const f = new MemFile(arena);
    f.#size = size;
    f.#pos = pos;
    f.#extents = extents;
    return f;
  }

  /** Length in bytes. */
  get size(): number {
    return this.#size;
  }

  /** File position (preserved across the handover). */
  get position(): number {
    return this.#pos;
  }

  /** Moves the file position (`EINVAL` unless a non-negative integer). */
  set position(p: number) {
    this.#pos = checkInteger("memfd position", p);
  }

  /** Whether the file is preserved in a session (then its size is fixed). */
  get preserved(): boolean {
    return this.#preserved;
  }

  /** @internal */
  [setPreserved](on: boolean): void {
    this.#preserved = on;
  }

  /** The page blocks holding the bytes, in order. */
  get extents(): readonly Region[] {
    return this.#extents;
  }

  #capacity(): number {
    return this.#extents.reduce((a, e) => a + e.pages * PAGE_SIZE, 0);
  }

  #live(): void {
    if (this.#closed) throw new LuoError("EBADF", "memfd is closed");
  }

  /** Adds an extent so that `size` bytes fit (at least doubling the capacity). */
  #grow(size: number): void {
    const have = this.#capacity();
    if (size <= have) return;
    this.#extents.push(this.arena.allocRegion(Math.max(size - have, have)));
  }

  /** Changes the size; new bytes are zero. `EPERM` while preserved. */
  resize(size: number): void {
    this.#live();
    checkInteger("memfd size", size, 0, this.arena.size);
    if (size === this.#size) return;
    if (this.#preserved) {
      throw new LuoError(
        "EPERM",
        `memfd of ${this.#size} bytes is preserved: its size cannot change`,
      );
    }
    this.#grow(size);
    if (size > this.#size) this.#forEachChunk(this.#size, size - this.#size, (b) => b.fill(0));
    this.#size = size;
  }

  #forEachChunk(at: number, len: number, fn: (chunk: Uint8Array, done: number) => void): void {
    let base = 0;
    let done = 0;
    for (const e of this.#extents) {
      const cap = e.pages * PAGE_SIZE;
      if (at + done < base + cap && done < len) {
        const start = at + done - base;
        const n = Math.min(cap - start, len - done);
        fn(this.arena.bytes(e.pa + BigInt(start), n), done);
        done += n;
      }
      base += cap;
    }
  }

  /**
   * Writes `data` at `at` (default: the position, which then advances),
   * growing the file (the gap, if any, is zero). Returns the bytes written.
   */
  write(data: Uint8Array, at?: number): number {
    this.#live();
    if (!(data instanceof Uint8Array)) {
      throw new LuoError("EINVAL", `memfd write: data must be a Uint8Array, got ${typeOf(data)}`);
    }
    const pos = at === undefined ? this.#pos : checkInteger("memfd write offset", at);
    const end = pos + data.length;
    if (end > this.#size) this.resize(end);
    this.#forEachChunk(
      pos,
      data.length,
      (chunk, done) => chunk.set(data.subarray(done, done + chunk.length)),
    );
    if (at === undefined) this.#pos = end;
    return data.length;
  }

  /** Copies `len` bytes from `at` into a new array (`EINVAL` outside the file). */
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

  /** Zero-copy view of the whole contents; `EINVAL` if they span several extents (use {@link read}). */
  bytes(): Uint8Array {
    this.#live();
    if (this.#extents.length === 0 || this.#size === 0) return new Uint8Array(0);
    if (this.#size > this.#extents[0].pages * PAGE_SIZE) {
      throw new LuoError(
        "EINVAL",
        `memfd spans ${this.#extents.length} extents: no single view; use read()`,
      );
    }
    return this.arena.bytes(this.#extents[0].pa, this.#size);
  }

  /** Frees the pages. `EBUSY` while preserved. Idempotent. */
  close(): void {
    if (this.#closed) return;
    if (this.#preserved) {
      throw new LuoError("EBUSY", "memfd is preserved: unpreserve it before closing");
    }
    if (!this.arena.closed) { for (const e of this.#extents) this.arena.free(e.pa); }
    this.#extents = [];
    this.#closed = true;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** What the handler keeps per preserved file: the descriptor page and the extent chain. */
interface Preserved {
  desc: bigint;
  chain: BlockChain;
}

/** Reads a handed-over descriptor and its extents (claiming the metadata with `claim`, then freeing it). */
function parse(ctx: HandlerContext, data: bigint, claim: boolean) {
  const { arena } = ctx;
  if (claim) arena.claim(data, MEMFD_DESCRIPTOR_BYTES, "memfd descriptor");
  try {
    const d = readMemfdDescriptor(arena, data);
    const chain = BlockChain.incoming(arena, EXTENT_CHAIN, d.extentsPa, {
      expected: d.nextents,
      maxBlocks: ctx.maxBlocks,
      claim,
    });
    try {
      return { ...d, chain, extents: readExtents(arena, chain, d.size, data) };
    } finally {
      chain.release();
    }
  } finally {
    if (claim) arena.free(data);
  }
}

function claimExtents(arena: Arena, extents: Region[]): void {
  const claimed: Region[] = [];
  try {
    for (const [i, e] of extents.entries()) {
      arena.claim(e.pa, e.pages * PAGE_SIZE, `memfd extent ${i}`);
      claimed.push(e);
    }
  } catch (err) {
    for (const e of claimed) arena.free(e.pa);
    throw err;
  }
}

function preservedOf(file: { private: unknown }): Preserved {
  const st = file.private as Preserved | undefined;
  if (!st) throw new KhoError("EINVAL", "memfd is not preserved by this handler");
  return st;
}

/** The `"memfd-v1"` handler: preserves {@link MemFile}s of the same arena. */
export const memfdHandler: FileHandler<MemFile> = {
  compatible: MEMFD_V1,
  canPreserve(ctx, obj) {
    return obj instanceof MemFile && obj.arena === ctx.arena;
  },
  preserve(ctx, file) {
    const { arena } = ctx;
    const f = file.obj;
    const desc = arena.allocPreserve(MEMFD_DESCRIPTOR_BYTES, { zero: true });
    const chain = BlockChain.outgoing(arena, EXTENT_CHAIN, ctx.maxBlocks);
    const done: Region[] = [];
    try {
      chain.reserve(f.extents.length);
      for (const e of f.extents) {
        arena.preserve(e.pa, e.pages * PAGE_SIZE);
        done.push(e);
      }
    } catch (err) {
      for (const e of done) arena.unpreserve(e.pa, e.pages * PAGE_SIZE);
      chain.destroy();
      arena.unpreserveFree(desc);
      throw err;
    }
    file.private = { desc, chain } satisfies Preserved;
    f[setPreserved](true);
    return desc;
  },
  unpreserve({ arena }, file) {
    const st = preservedOf(file);
    for (const e of file.obj.extents) arena.unpreserve(e.pa, e.pages * PAGE_SIZE);
    st.chain.destroy();
    arena.unpreserveFree(st.desc);
    file.private = undefined;
    file.obj[setPreserved](false);
  },
  freeze({ arena }, file) {
    const st = preservedOf(file);
    const f = file.obj;
    writeExtents(st.chain, f.extents);
    writeMemfdDescriptor(arena, st.desc, {
      size: f.size,
      pos: f.position,
      extentsPa: st.chain.head,
      nextents: f.extents.length,
    });
  },
  unfreeze({ arena }, file) {
    const st = preservedOf(file);
    st.chain.clear();
    writeMemfdDescriptor(arena, st.desc, { size: 0, pos: 0, extentsPa: 0n, nextents: 0 });
  },
  retrieve(ctx, file) {
    const { size, pos, extents } = parse(ctx, file.data, true);
    claimExtents(ctx.arena, extents);
    return MemFile.adopt(ctx.arena, size, pos, extents);
  },
  finish(ctx, file: IncomingFile<MemFile>) {
    // Retrieved: the user owns the file now. Failed: the retrieve released
    // what it had claimed; the rest is freed with the unclaimed regions.
    if (file.status !== "none") return;
    memfdHandler.retrieve(ctx, file).close();
  },
  describe(ctx, data): FileDescription {
    const d = parse(ctx, data, false);
    const regions = [
      { pa: data, pages: 1, what: "memfd descriptor" },
      ...d.chain.blocks.map((b) => ({ pa: b.pa, pages: 1, what: "memfd extent block" })),
      ...d.extents.map((e) => ({ ...e, what: "memfd data" })),
    ];
    return { fields: { size: d.size, position: d.pos, extents: d.extents.length }, regions };
  },
};
