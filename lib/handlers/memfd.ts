/**
 * The built-in memory file (like Linux's memfd) and its handler,
 * compatible `"memfd-v1"`. A {@link MemFile}'s bytes live in arena pages;
 * the successor gets a view of the very same pages: nothing is copied.
 *
 * Serialized form: `luo_file_ser.data` is the physical address of a
 * descriptor page `memfd_ser { u64 size; u64 pos; u64 extents_pa; u64 nextents; }`;
 * extents form a block chain of `{ u64 pa; u64 npages; }`.
 *
 * @module
 */

import { COMPAT, DEFAULT_MAX_BLOCKS, EXTENT, EXTENT_CHAIN, MEMFD_SER } from "../abi.ts";
import { BlockChain, claimBlock } from "../block.ts";
import { CorruptImageError, LuoError } from "../errors.ts";
import type { FileHandler, HandlerContext } from "../handler.ts";
import { type Arena, blockPages, PAGE_SIZE, type Region } from "../kho.ts";

const DESC_SIZE = PAGE_SIZE;

/** Per-preservation state: the descriptor page and the extent chain. */
interface Preserved {
  desc: bigint;
  chain: BlockChain;
}

const preservedState = new WeakMap<MemFile, Preserved>();

/**
 * A memory file whose bytes live in arena pages. Preserve it in a session
 * and the successor retrieves the same pages.
 *
 * @example
 * ```ts
 * import { Arena } from "../kho.ts";
 * import { MemFile } from "./memfd.ts";
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

  private constructor(arena: Arena) {
    this.arena = arena;
  }

  /** An empty file, or one of `size` zero bytes in a single extent. */
  static create(arena: Arena, size = 0): MemFile {
    const f = new MemFile(arena);
    if (size > 0) {
      f.#grow(size);
      f.bytes().fill(0);
      f.#size = size;
    }
    return f;
  }

  /** A file holding a copy of `data`. */
  static from(arena: Arena, data: Uint8Array): MemFile {
    const f = MemFile.create(arena);
    f.write(data, 0);
    f.#pos = 0;
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

  /** Moves the file position. */
  set position(p: number) {
    if (!Number.isSafeInteger(p) || p < 0) {
      throw new LuoError("EINVAL", `memfd position ${p} is not valid`);
    }
    this.#pos = p;
  }

  /** Whether the file is preserved in a session (then its size is fixed). */
  get preserved(): boolean {
    return preservedState.has(this);
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

  #grow(size: number): void {
    const have = this.#capacity();
    if (size <= have) return;
    const pages = blockPages(Math.max(size - have, have));
    const pa = this.arena.alloc(pages * PAGE_SIZE);
    this.#extents.push({ pa, pages });
  }

  /** Changes the size (new bytes are zero). `EPERM` while preserved. */
  resize(size: number): void {
    this.#live();
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new LuoError("EINVAL", `memfd size ${size} is not valid`);
    }
    if (size === this.#size) return;
    if (this.preserved) {
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
      if (at < base + cap && done < len) {
        const start = Math.max(0, at + done - base);
        const n = Math.min(cap - start, len - done);
        fn(this.arena.bytes(e.pa + BigInt(start), n), done);
        done += n;
      }
      base += cap;
    }
  }

  /** Writes `data` at `at` (default: the position, which then advances), growing the file. */
  write(data: Uint8Array, at?: number): number {
    this.#live();
    const pos = at ?? this.#pos;
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

  /** Copies `len` bytes from `at` into a new array. */
  read(at: number = 0, len: number = this.#size - at): Uint8Array {
    this.#live();
    if (at < 0 || len < 0 || at + len > this.#size) {
      throw new LuoError("EINVAL", `read ${at}+${len} outside memfd of ${this.#size} bytes`);
    }
    const out = new Uint8Array(len);
    this.#forEachChunk(at, len, (chunk, done) => out.set(chunk, done));
    return out;
  }

  /** Zero-copy view of the whole contents; `EINVAL` if they span several extents (use {@link read}). */
  bytes(): Uint8Array {
    this.#live();
    if (this.#extents.length === 0) return new Uint8Array(0);
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
    if (this.preserved) {
      throw new LuoError("EBUSY", "memfd is preserved: unpreserve it before closing");
    }
    for (const e of this.#extents) this.arena.free(e.pa);
    this.#extents = [];
    this.#closed = true;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function parseDescriptor(ctx: HandlerContext, data: bigint, claim: boolean) {
  const { arena } = ctx;
  if (claim) claimBlock(arena, data, DESC_SIZE, "memfd descriptor");
  const freeDesc = () => claim && arena.free(data);
  try {
    const dv = arena.dataView;
    const off = arena.offsetOf(data, MEMFD_SER.size);
    const size = dv.getBigUint64(off + MEMFD_SER.fileSize, true);
    const pos = dv.getBigUint64(off + MEMFD_SER.pos, true);
    const extentsPa = dv.getBigUint64(off + MEMFD_SER.extentsPa, true);
    const nextents = dv.getBigUint64(off + MEMFD_SER.nextents, true);
    if (size > BigInt(arena.size)) {
      throw new CorruptImageError(`memfd size ${size} is larger than the arena`, data);
    }
    if (pos > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new CorruptImageError(`memfd position ${pos} is too large`, data);
    }
    if (nextents === 0n && (extentsPa !== 0n || size !== 0n)) {
      throw new CorruptImageError(
        `memfd of ${size} bytes has no extents`,
        data + BigInt(MEMFD_SER.nextents),
      );
    }
    if (nextents > BigInt(arena.size / PAGE_SIZE)) {
      throw new CorruptImageError(
        `memfd has ${nextents} extents, more than the arena's pages`,
        data,
      );
    }
    const extents: Region[] = [];
    BlockChain.restore(
      arena,
      EXTENT_CHAIN,
      extentsPa,
      { expected: Number(nextents), maxBlocks: DEFAULT_MAX_BLOCKS, claim },
      (dv, _b, o, i, epa) => {
        const pa = dv.getBigUint64(o + EXTENT.pa, true);
        const pages = dv.getBigUint64(o + EXTENT.npages, true);
        if (pages === 0n || pages > BigInt(arena.size / PAGE_SIZE)) {
          throw new CorruptImageError(`memfd extent ${i} has ${pages} pages`, epa);
        }
        extents.push({ pa, pages: Number(pages) });
      },
    );
    const capacity = extents.reduce((a, e) => a + e.pages * PAGE_SIZE, 0);
    if (Number(size) > capacity) {
      throw new CorruptImageError(
        `memfd of ${size} bytes has extents of only ${capacity} bytes`,
        data,
      );
    }
    return { size: Number(size), pos: Number(pos), extents };
  } finally {
    freeDesc();
  }
}

function claimExtents(arena: Arena, extents: Region[]): void {
  const claimed: Region[] = [];
  try {
    for (const [i, e] of extents.entries()) {
      claimBlock(arena, e.pa, e.pages * PAGE_SIZE, `memfd extent ${i}`);
      claimed.push(e);
    }
  } catch (err) {
    for (const e of claimed) arena.free(e.pa);
    throw err;
  }
}

/** The `"memfd-v1"` handler: preserves {@link MemFile}s of the same arena. */
export const memfdHandler: FileHandler<MemFile> = {
  compatible: COMPAT.memfd,
  canPreserve(ctx, obj) {
    return obj instanceof MemFile && obj.arena === ctx.arena;
  },
  preserve({ arena }, f) {
    const desc = arena.allocPreserve(DESC_SIZE);
    const chain = new BlockChain(arena, EXTENT_CHAIN, DEFAULT_MAX_BLOCKS);
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
    preservedState.set(f, { desc, chain });
    return desc;
  },
  unpreserve({ arena }, f) {
    const st = preservedState.get(f);
    if (!st) throw new LuoError("EINVAL", "memfd is not preserved");
    for (const e of f.extents) arena.unpreserve(e.pa, e.pages * PAGE_SIZE);
    st.chain.destroy();
    arena.unpreserveFree(st.desc);
    preservedState.delete(f);
  },
  freeze({ arena }, f, data) {
    const st = preservedState.get(f)!;
    const dv = arena.dataView;
    const off = arena.offsetOf(data, DESC_SIZE);
    const extents = f.extents;
    st.chain.fill(extents.length, (dv, _b, o, i) => {
      dv.setBigUint64(o + EXTENT.pa, extents[i].pa, true);
      dv.setBigUint64(o + EXTENT.npages, BigInt(extents[i].pages), true);
    });
    dv.setBigUint64(off + MEMFD_SER.fileSize, BigInt(f.size), true);
    dv.setBigUint64(off + MEMFD_SER.pos, BigInt(f.position), true);
    dv.setBigUint64(off + MEMFD_SER.extentsPa, st.chain.head, true);
    dv.setBigUint64(off + MEMFD_SER.nextents, BigInt(extents.length), true);
  },
  unfreeze({ arena }, f, data) {
    preservedState.get(f)!.chain.clear();
    arena.bytes(data, MEMFD_SER.size).fill(0);
  },
  retrieve(ctx, data) {
    const { size, pos, extents } = parseDescriptor(ctx, data, true);
    claimExtents(ctx.arena, extents);
    return MemFile.adopt(ctx.arena, size, pos, extents);
  },
  canFinish() {
    return true;
  },
  finish(ctx, obj, data) {
    if (obj) return; // retrieved: the user owns the file now
    memfdHandler.retrieve(ctx, data).close();
  },
};

/** Reads a memfd descriptor without claiming anything (for inspection). */
export function describeMemfd(
  ctx: HandlerContext,
  data: bigint,
): { size: number; pos: number; extents: Region[] } {
  return parseDescriptor(ctx, data, false);
}
