/**
 * The `"memfd-v2"` handler (the default for {@link MemFile}s): a 120-byte
 * descriptor in a page shared by 32 files, extents inline up to 5, the
 * file's seals kept (`format/memfd_v2_ser.ts`). The shared pages are the
 * state of an FLB (`./descriptor_pages.ts`).
 *
 * @module
 */

import { CorruptImageError, KhoError } from "../../errors.ts";
import { BlockChain } from "../../format/block.ts";
import { EXTENT_CHAIN, readExtents, writeExtents } from "../../format/memfd_ser.ts";
import {
  MEMFD_V2,
  MEMFD_V2_SER,
  type MemfdV2Descriptor,
  readMemfdV2,
  readPageHeader,
  sealNames,
  slotOf,
  writeMemfdV2,
} from "../../format/memfd_v2_ser.ts";
import { PAGE_SIZE, type Region } from "../../kho/arena.ts";
import type {
  FileDescription,
  FileHandler,
  HandlerContext,
  IncomingFile,
} from "../../luo/handler.ts";
import { type DescriptorPages, type DescriptorSlab, MEMFD_V2_PAGES } from "./descriptor_pages.ts";
import { MemFile, setPreserved, trimSlack } from "./mem_file.ts";
import { claimExtents, preserveExtents, unpreserveExtents } from "./extents.ts";

/** What the handler keeps per preserved file: its slot and, past 5 extents, an extent chain. */
interface Preserved {
  slot: bigint;
  chain: BlockChain | null;
}

function preservedOf(file: { private: unknown }): Preserved {
  const st = file.private as Preserved | undefined;
  if (!st) throw new KhoError("EINVAL", "memfd is not preserved by this handler");
  return st;
}

/** The extents of a descriptor: inline, or read from its chain (claimed and freed with `claim`). */
function extentsOf(ctx: HandlerContext, d: MemfdV2Descriptor, at: bigint, claim: boolean) {
  if (d.extentsPa === 0n) return { extents: d.inline, blocks: [] as bigint[] };
  const chain = BlockChain.incoming(ctx.arena, EXTENT_CHAIN, d.extentsPa, {
    expected: d.nextents,
    maxBlocks: ctx.maxBlocks,
    claim,
  });
  try {
    return {
      extents: readExtents(ctx.arena, chain, d.size, at),
      blocks: chain.blocks.map((b) => b.pa),
    };
  } finally {
    chain.release();
  }
}

/** Checks the extents cover the size (inline ones; a chain is checked by readExtents). */
function checkCapacity(d: MemfdV2Descriptor, extents: readonly Region[], at: bigint): void {
  const capacity = extents.reduce((a, e) => a + e.pages * PAGE_SIZE, 0);
  if (d.size > capacity) {
    throw new CorruptImageError(`memfd-v2: ${d.size} bytes in extents of ${capacity} bytes`, at);
  }
}

/** Reads, claims and consumes a handed-over file. */
function take(ctx: HandlerContext, file: IncomingFile<MemFile>): MemFile {
  const data = file.data;
  const pages = ctx.flbIncoming(MEMFD_V2_PAGES) as DescriptorPages;
  pages.take(file);
  let d: MemfdV2Descriptor;
  let extents: readonly Region[];
  try {
    d = readMemfdV2(ctx.arena, data);
    extents = extentsOf(ctx, d, data, true).extents;
    checkCapacity(d, extents, data);
  } finally {
    pages.consume(data);
  }
  try {
    claimExtents(ctx.arena, extents);
  } catch (e) {
    // Pages another file retrieved already: name it (the image is damaged; which of the two is undecidable).
    const at = e instanceof CorruptImageError && typeof e.where === "bigint" ? e.where : -1n;
    const holder = pages.holderOf(at);
    if (!holder) throw e;
    throw new CorruptImageError(
      `memfd extent 0x${
        at.toString(16)
      }: retrieved already with ${holder}, which names the same pages`,
      at,
    );
  }
  return MemFile.adopt(ctx.arena, d.size, d.pos, [...extents], d.seals);
}

/**
 * The `"memfd-v2"` handler: preserves {@link MemFile}s of the same arena
 * (registered in every live update; this is the default format).
 *
 * @example
 * ```ts
 * import { LiveUpdate, memfdHandler, MemFile } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const file = MemFile.create(luo.arena, 100);
 * luo.createSession("svc").preserve(file, 1n); // memfdHandler.canPreserve said yes
 * console.log(memfdHandler.compatible, luo.tokenOf(file)); // "memfd-v2" { session: "svc", token: 1n }
 * ```
 */
export const memfdHandler: FileHandler<MemFile> = {
  compatible: MEMFD_V2,
  canPreserve(ctx, obj) {
    return obj instanceof MemFile && obj.arena === ctx.arena;
  },
  preserve(ctx, file) {
    const { arena } = ctx;
    const f = file.obj;
    f[trimSlack]();
    const slab = ctx.flbOutgoing(MEMFD_V2_PAGES) as DescriptorSlab;
    const slot = slab.alloc();
    let chain: BlockChain | null = null;
    try {
      if (f.extents.length > MEMFD_V2_SER.inlineCount) {
        chain = BlockChain.outgoing(arena, EXTENT_CHAIN, ctx.maxBlocks);
        chain.reserve(f.extents.length);
      }
      preserveExtents(arena, f.extents);
    } catch (err) {
      chain?.destroy();
      slab.free(slot);
      throw err;
    }
    file.private = { slot, chain } satisfies Preserved;
    f[setPreserved](true);
    return slot;
  },
  unpreserve(ctx, file) {
    const st = preservedOf(file);
    unpreserveExtents(ctx.arena, file.obj.extents);
    st.chain?.destroy();
    (ctx.flbOutgoing(MEMFD_V2_PAGES) as DescriptorSlab).free(st.slot);
    file.private = undefined;
    file.obj[setPreserved](false);
  },
  freeze({ arena }, file) {
    const st = preservedOf(file);
    const f = file.obj;
    if (st.chain) writeExtents(st.chain, f.extents);
    writeMemfdV2(arena, st.slot, {
      size: f.size,
      pos: f.position,
      seals: f.seals,
      nextents: f.extents.length,
      inline: st.chain ? [] : f.extents,
      extentsPa: st.chain?.head ?? 0n,
    });
  },
  unfreeze({ arena }, file) {
    const st = preservedOf(file);
    st.chain?.clear();
    writeMemfdV2(arena, st.slot, {
      size: 0,
      pos: 0,
      seals: 0,
      nextents: 0,
      inline: [],
      extentsPa: 0n,
    });
  },
  retrieve(ctx, file) {
    return take(ctx, file);
  },
  finish(ctx, file) {
    // Retrieved: the user owns the file now. Failed: the retrieve released
    // what it had claimed; the rest is freed with the unclaimed regions.
    if (file.status === "none") take(ctx, file).close();
  },
  describe(ctx, data): FileDescription {
    const at = slotOf(data);
    if (!at) {
      throw new KhoError("EINVAL", `memfd-v2: 0x${data.toString(16)} is not a descriptor slot`);
    }
    readPageHeader(ctx.arena, at.page);
    const d = readMemfdV2(ctx.arena, data);
    const { extents, blocks } = extentsOf(ctx, d, data, false);
    checkCapacity(d, extents, data);
    return {
      fields: { size: d.size, position: d.pos, seals: sealNames(d.seals), extents: extents.length },
      regions: [
        { pa: at.page, pages: 1, what: "memfd-v2 descriptor page" },
        ...blocks.map((pa) => ({ pa, pages: 1, what: "memfd extent block" })),
        ...extents.map((e) => ({ ...e, what: "memfd data" })),
      ],
    };
  },
};
