/**
 * The pages that memfd-v2 descriptors share (32 per page), on both sides of
 * a handover, kept as the state of a file-lifecycle-bound object (FLB)
 * attached to the memfd-v2 handler:
 *
 * - outgoing ({@link DescriptorSlab}): hands out descriptor slots, O(1),
 *   allocating a preserved page when every page is full and freeing a page
 *   when its last descriptor goes;
 * - incoming ({@link DescriptorPages}): claims a page when the first of its
 *   descriptors is read (its header checked first: a page that is no
 *   descriptor page is left as it was, and every file naming it gets its
 *   damage), checks every slot is read once (a second file naming a slot
 *   is told which file took it), and frees the page exactly when its last
 *   descriptor was consumed.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../../errors.ts";
import {
  MEMFD_V2_PAGE,
  readPageHeader,
  slotAddress,
  slotOf,
  writePageBitmap,
  writePageHeader,
} from "../../format/memfd_v2_ser.ts";
import { type Arena, PAGE_SIZE } from "../../kho/arena.ts";
import type { FlbOps } from "../../luo/flb.ts";
import type { IncomingFile } from "../../luo/handler.ts";
import type { MemFile } from "./mem_file.ts";

const FULL = (2 ** MEMFD_V2_PAGE.slotCount - 1) >>> 0;

/** Lowest clear bit of a 32-bit map (the map is not full). */
function freeBit(bitmap: number): number {
  return 31 - Math.clz32(~bitmap & (bitmap + 1));
}

/** Outgoing descriptor slots. */
export class DescriptorSlab {
  #arena: Arena;
  #pages = new Map<bigint, number>(); // page -> bitmap of slots in use
  #current: bigint | null = null; // the page slots are taken from
  #roomy: bigint[] = []; // pages a slot came back to (checked again when taken)

  /** An empty slab over `arena`. */
  constructor(arena: Arena) {
    this.#arena = arena;
  }

  /** A free descriptor slot (its physical address), in a preserved page. */
  alloc(): bigint {
    let page = this.#current;
    if (page === null || this.#pages.get(page) === FULL) page = this.#nextPage();
    const bitmap = this.#pages.get(page)!;
    const slot = freeBit(bitmap);
    const next = (bitmap | (1 << slot)) >>> 0;
    this.#pages.set(page, next);
    writePageBitmap(this.#arena, page, next);
    return slotAddress(page, slot);
  }

  /** A page with a free slot: one a slot came back to, else a new one. */
  #nextPage(): bigint {
    // Bounded: each entry is popped once.
    while (this.#roomy.length > 0) {
      const page = this.#roomy.pop()!;
      const bitmap = this.#pages.get(page);
      if (bitmap !== undefined && bitmap !== FULL) return this.#current = page;
    }
    const page = this.#arena.allocPreserve(PAGE_SIZE, { zero: true });
    this.#pages.set(page, 0);
    writePageHeader(this.#arena, page, 0);
    return this.#current = page;
  }

  /** Gives a slot back; its page is freed when it was the last one. */
  free(pa: bigint): void {
    const at = slotOf(pa);
    const bitmap = at ? this.#pages.get(at.page) : undefined;
    if (!at || bitmap === undefined || !(bitmap & (1 << at.slot))) {
      throw new LuoError("EINVAL", `memfd-v2: 0x${pa.toString(16)} is not a slot in use`);
    }
    const next = (bitmap & ~(1 << at.slot)) >>> 0;
    if (next === 0) {
      this.#pages.delete(at.page);
      if (this.#current === at.page) this.#current = null;
      this.#arena.unpreserveFree(at.page);
      return;
    }
    this.#pages.set(at.page, next);
    if (bitmap === FULL && at.page !== this.#current) this.#roomy.push(at.page);
    writePageBitmap(this.#arena, at.page, next);
  }

  /** Descriptor pages in use. */
  get pages(): number {
    return this.#pages.size;
  }
}

/** A handed-over file as the memfd-v2 handler sees it. */
type Taker = IncomingFile<MemFile>;

/** Incoming descriptor pages: claimed on first use, freed after their last descriptor. */
export class DescriptorPages {
  #arena: Arena;
  #left = new Map<bigint, number>(); // page -> bitmap of slots not consumed yet
  #damaged = new Map<bigint, CorruptImageError>(); // page -> why it is no usable descriptor page
  #takers: Taker[] = []; // files that took a slot, in order (searched on a conflict only)

  /** No page claimed yet. */
  constructor(arena: Arena) {
    this.#arena = arena;
  }

  /**
   * Takes the descriptor `file.data` (once): claims its page on first use
   * and checks the slot is live and not taken before. Call {@link consume}
   * after reading it.
   */
  take(file: Taker): void {
    const pa = file.data;
    const at = slotOf(pa);
    if (!at) throw new CorruptImageError("memfd-v2: descriptor address is not a slot", pa);
    const left = this.#left.get(at.page) ?? this.#claimPage(at.page);
    if (!(left & (1 << at.slot))) {
      const other = this.#takers.find((f) => f.data === pa);
      throw new CorruptImageError(
        other
          ? `memfd-v2: descriptor slot taken already by ${nameOf(other)}, which names it too`
          : "memfd-v2: descriptor slot is not live",
        pa,
      );
    }
    this.#takers.push(file);
  }

  /**
   * Claims a descriptor page on its first use; returns its slots in use.
   * Its header is checked before it is claimed, so that a page that is no
   * descriptor page (another file's data, a free page) stays as it was;
   * whatever is wrong with it is the error of every file that names it.
   */
  #claimPage(page: bigint): number {
    const damage = this.#damaged.get(page);
    if (damage !== undefined) throw copyOf(damage);
    try {
      const left = readPageHeader(this.#arena, page);
      this.#claimFree(page);
      this.#left.set(page, left);
      return left;
    } catch (e) {
      // A copy: the one thrown gets the file's name put in front.
      if (e instanceof CorruptImageError) this.#damaged.set(page, copyOf(e));
      throw e;
    }
  }

  /**
   * Claims `page`; when a file retrieved before took it as its data (its
   * descriptor, or this page's, is damaged: which one cannot be told), the
   * error names that file.
   */
  #claimFree(page: bigint): void {
    try {
      this.#arena.claim(page, PAGE_SIZE, "memfd-v2 descriptor page");
    } catch (e) {
      const holder = this.holderOf(page);
      if (holder === undefined) throw e;
      throw new CorruptImageError(
        `memfd-v2 descriptor page: retrieved already as data of ${holder}, which names it too`,
        page,
      );
    }
  }

  /**
   * The file retrieved before whose extents hold `pa`, as "session S token
   * T" (undefined when none: a region another kind of file holds, or none).
   * For a claim that failed: two files name the same pages.
   */
  holderOf(pa: bigint): string | undefined {
    const holds = (f: Taker) =>
      f.status === "retrieved" && f.obj !== undefined &&
      f.obj.extents.some((e) => pa >= e.pa && pa < e.pa + BigInt(e.pages * PAGE_SIZE));
    const other = this.#takers.find(holds);
    return other && nameOf(other);
  }

  /** The descriptor at `pa` was read: frees its page after the last one. */
  consume(pa: bigint): void {
    const at = slotOf(pa)!;
    const left = (this.#left.get(at.page)! & ~(1 << at.slot)) >>> 0;
    if (left !== 0) {
      this.#left.set(at.page, left);
      return;
    }
    this.#left.delete(at.page);
    this.#arena.free(at.page);
  }

  /** Frees every page still held (some descriptors were never consumed: damaged files). */
  releaseAll(): void {
    for (const page of this.#left.keys()) this.#arena.free(page);
    this.#left.clear();
    this.#takers = [];
  }
}

/** A new error saying what `e` says, where it says it (for another file). */
function copyOf(e: CorruptImageError): CorruptImageError {
  const at = ` (at ${typeof e.where === "bigint" ? "0x" + e.where.toString(16) : e.where})`;
  const text = e.message.slice(e.code.length + 2);
  return new CorruptImageError(
    text.endsWith(at) ? text.slice(0, -at.length) : text,
    e.where,
    e.code,
  );
}

/** A file as error messages name it. */
function nameOf(f: Taker): string {
  return `the file of session ${JSON.stringify(f.session)} token ${f.token}`;
}

/** Compatible string of the FLB holding the descriptor pages. */
export const MEMFD_V2_PAGES = "memfd-v2-pages";

/** The FLB of the memfd-v2 handler: its descriptor pages, outgoing and incoming. */
export const descriptorPagesFlb: FlbOps<DescriptorSlab | DescriptorPages> = {
  compatible: MEMFD_V2_PAGES,
  preserve: (ctx) => ({ obj: new DescriptorSlab(ctx.arena), data: 0n }),
  unpreserve: (_ctx, slab) => {
    if ((slab as DescriptorSlab).pages !== 0) {
      throw new LuoError("EBUSY", "memfd-v2: descriptor pages still in use at the last unpreserve");
    }
  },
  retrieve: (ctx) => new DescriptorPages(ctx.arena),
  finish: (_ctx, pages) => (pages as DescriptorPages | undefined)?.releaseAll(),
};
