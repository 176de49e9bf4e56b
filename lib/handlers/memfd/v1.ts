/**
 * The `"memfd-v1"` handler: one descriptor page per file
 * (`format/memfd_ser.ts`). Still read; written only when a live update is
 * created with `memfdFormat: "memfd-v1"` (for a successor that does not
 * read memfd-v2 yet).
 *
 * @module
 */

import { KhoError, LuoError } from "../../errors.ts";
import { sealNames } from "../../format/memfd_v2_ser.ts";
import { BlockChain } from "../../format/block.ts";
import {
  EXTENT_CHAIN,
  MEMFD_DESCRIPTOR_BYTES,
  MEMFD_V1,
  readExtents,
  readMemfdDescriptor,
  writeExtents,
  writeMemfdDescriptor,
} from "../../format/memfd_ser.ts";
import type {
  FileDescription,
  FileHandler,
  HandlerContext,
  IncomingFile,
} from "../../luo/handler.ts";
import { claimExtents, preserveExtents, unpreserveExtents } from "./extents.ts";
import { MemFile, setPreserved, trimSlack } from "./mem_file.ts";

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

/**
 * memfd-v1 has no field for seals: a sealed file handed over in it would
 * come back unsealed and writable. `EPROTO`, saying what to use instead.
 */
function refuseSeals(f: MemFile): void {
  if (f.seals === 0) return;
  throw new LuoError(
    "EPROTO",
    `memfd-v1 cannot carry the file's seals (${sealNames(f.seals)}): it would come back ` +
      'unsealed; hand it over as memfd-v2 (memfdFormat: "memfd-v2", the default)',
  );
}

function preservedOf(file: { private: unknown }): Preserved {
  const st = file.private as Preserved | undefined;
  if (!st) throw new KhoError("EINVAL", "memfd is not preserved by this handler");
  return st;
}

/**
 * The `"memfd-v1"` handler: preserves {@link MemFile}s of the same arena,
 * for a successor built before memfd-v2 (`memfdFormat: "memfd-v1"`).
 *
 * @example
 * ```ts
 * import { LiveUpdate, memfdV1Handler } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20, memfdFormat: "memfd-v1" });
 * console.log(luo.handlers.get("memfd-v1") === memfdV1Handler); // true: new files go as memfd-v1
 * ```
 */
export const memfdV1Handler: FileHandler<MemFile> = {
  compatible: MEMFD_V1,
  canPreserve(ctx, obj) {
    return obj instanceof MemFile && obj.arena === ctx.arena;
  },
  preserve(ctx, file) {
    const { arena } = ctx;
    const f = file.obj;
    refuseSeals(f);
    f[trimSlack]();
    const desc = arena.allocPreserve(MEMFD_DESCRIPTOR_BYTES, { zero: true });
    const chain = BlockChain.outgoing(arena, EXTENT_CHAIN, ctx.maxBlocks);
    try {
      chain.reserve(f.extents.length);
      preserveExtents(arena, f.extents);
    } catch (err) {
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
    unpreserveExtents(arena, file.obj.extents);
    st.chain.destroy();
    arena.unpreserveFree(st.desc);
    file.private = undefined;
    file.obj[setPreserved](false);
  },
  freeze({ arena }, file) {
    const st = preservedOf(file);
    const f = file.obj;
    refuseSeals(f); // sealed since it was preserved
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
    memfdV1Handler.retrieve(ctx, file).close();
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

/** memfd-v1 for reading only: it preserves nothing (memfd-v2 does), it retrieves and finishes. */
export const memfdV1Reader: FileHandler<MemFile> = {
  ...memfdV1Handler,
  canPreserve: () => false,
};
