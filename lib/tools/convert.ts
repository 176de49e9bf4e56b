/**
 * Rewrites a handed-over image in the formats of this build, in place and
 * atomically: a `luo-session-v3` image becomes `luo-session-v4`, and every
 * `memfd-v1` file becomes `memfd-v2` (its bytes stay where they are). The
 * new chains, descriptors and device trees are written to fresh pages,
 * every other handed-over region (file data, other handlers' metadata) is
 * carried over unchanged, and the switch is the arena's journaled header
 * commit: a crash at any point leaves the old image or the new one.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import { BlockChain, DEFAULT_MAX_BLOCKS } from "../format/block.ts";
import { utf8 } from "../format/c_string.ts";
import { compatibleField, FILE_CHAIN, writeFileEntry } from "../format/file_ser.ts";
import { FLB_CHAIN, writeFlbEntries } from "../format/flb_ser.ts";
import {
  EXTENT_CHAIN,
  MEMFD_V1,
  readExtents,
  readMemfdDescriptor,
  writeExtents,
} from "../format/memfd_ser.ts";
import { MEMFD_V2, MEMFD_V2_SER, writeMemfdV2 } from "../format/memfd_v2_ser.ts";
import { placeRoots, ROOT_COMPAT } from "../format/roots.ts";
import { SESSION_CHAIN, writeSessionEntry } from "../format/session_ser.ts";
import { tokenHalves } from "../format/token_index.ts";
import { DescriptorSlab, MEMFD_V2_PAGES } from "../handlers/memfd/descriptor_pages.ts";
import { Arena, type ArenaOptions, checkInteger, PAGE_SIZE, type Region } from "../kho/arena.ts";
import { checkPath, optionsOf } from "../kho/options.ts";
import { type Image, readImage } from "../luo/image.ts";

/**
 * What {@link convertArena} did.
 *
 * @example
 * ```ts
 * import { LiveUpdate } from "@luo/live-update";
 * import { convertArena, type ConvertResult } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.handover(); // an image of this build: nothing to convert
 * const result: ConvertResult = convertArena(luo.arena.path);
 * console.log(result.from, result.rewritten, result.liveupdateNumber); // "luo-session-v4" false 1n
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface ConvertResult {
  /** Session format found. */
  from: string;
  /** Session format written (the same as `from` when nothing was to do). */
  to: string;
  /** Sessions in the image. */
  sessions: number;
  /** Files in the image, in all sessions. */
  files: number;
  /** memfd-v1 files rewritten as memfd-v2. */
  memfdConverted: number;
  /** Whether the image was rewritten. */
  rewritten: boolean;
  /** The image's `liveupdate-number` (kept). */
  liveupdateNumber: bigint;
}

/** One file entry of the new image. */
interface NewFile {
  compatible: string;
  data: bigint;
  token: bigint;
}

/**
 * Converts the image in the arena at `path`: v3 sessions to v4, memfd-v1
 * files to memfd-v2. An image with nothing to convert is left alone; an
 * unknown format is refused (`EPROTO`, naming the format found and the ones
 * supported).
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { convertArena } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20, memfdFormat: "memfd-v1" }); // an older format
 * luo.createSession("svc").preserve(MemFile.from(luo.arena, new Uint8Array([1])), 1n);
 * luo.handover();
 * const r = convertArena(luo.arena.path); // in place; the successor reads memfd-v2
 * console.log(`${r.from} -> ${r.to}: ${r.memfdConverted} memfds rewritten`); // "luo-session-v4 -> luo-session-v4: 1 memfds rewritten"
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export function convertArena(
  path: string,
  options?: ArenaOptions & { maxBlocks?: number },
): ConvertResult {
  checkPath("convert: the arena path", path);
  options = optionsOf(`convert ${path}`, options);
  using arena = Arena.open(path, options);
  const root = arena.incomingRoot;
  if (root === 0n) throw new LuoError("ENOENT", `arena ${path} has nothing handed over to convert`);
  const maxBlocks = checkInteger("maxBlocks", options.maxBlocks ?? DEFAULT_MAX_BLOCKS, 1);
  const image = readImage(arena, root, { claim: false, maxBlocks, known: "any" });
  const v1Files = image.sessions.flatMap((s) => s.entries.records()).filter((f) =>
    f.compatible === MEMFD_V1
  );
  const result: ConvertResult = {
    from: image.format,
    to: ROOT_COMPAT.sessionV4,
    sessions: image.sessions.length,
    files: image.sessions.reduce((a, s) => a + s.entries.count, 0),
    memfdConverted: v1Files.length,
    rewritten: image.format !== ROOT_COMPAT.sessionV4 || v1Files.length > 0,
    liveupdateNumber: image.liveupdateNumber,
  };
  if (!result.rewritten) return result;
  const { metadata, v1 } = readOld(arena, image, maxBlocks);
  keepData(arena, metadata);
  const slab = new DescriptorSlab(arena);
  const sessions = image.sessions.map((s) =>
    s.entries.records().map((f) => {
      const old = v1.get(f.data);
      return old ? toV2(arena, slab, f.token, old, maxBlocks) : f;
    })
  );
  const sessionChain = BlockChain.outgoing(arena, SESSION_CHAIN, maxBlocks);
  sessionChain.reserve(sessions.length);
  const fileChains = sessions.map((files) => writeFiles(arena, files, maxBlocks));
  sessionChain.fill(sessions.length, (dv, bytes, off, i) => {
    const name = image.sessions[i].entry.name;
    writeSessionEntry(dv, bytes, off, utf8(name), fileChains[i].head, sessions[i].length);
  });
  const flbHeader = writeFlbs(arena, image, v1Files.length, maxBlocks);
  arena.handover(placeRoots(arena, {
    liveupdateNumber: image.liveupdateNumber,
    sessionHeader: sessionChain.head,
    flbHeader,
  }, []));
  return result;
}

/** A memfd-v1 file as read from its descriptor. */
interface OldMemfd {
  size: number;
  pos: number;
  extents: Region[];
}

/**
 * Reads what is rewritten before any page changes hands: the regions of the
 * old image that are replaced (device trees, session and file blocks or v3
 * arrays, the FLB chain, each memfd-v1 file's descriptor page and extent
 * blocks) and every memfd-v1 file's size, position and extents.
 */
function readOld(arena: Arena, image: Image, maxBlocks: number) {
  const metadata = new Set<bigint>([image.khoRoot, image.luoFdt]);
  const v1 = new Map<bigint, OldMemfd>();
  for (const b of [...image.sessionBlocks, ...image.flbBlocks]) metadata.add(b.pa);
  for (const s of image.sessions) {
    for (const b of s.fileBlocks) metadata.add(b.pa);
    for (const f of s.entries.records()) {
      if (f.compatible !== MEMFD_V1) continue;
      const d = readMemfdDescriptor(arena, f.data);
      const chain = BlockChain.incoming(arena, EXTENT_CHAIN, d.extentsPa, {
        expected: d.nextents,
        maxBlocks,
        claim: false,
      });
      metadata.add(f.data);
      for (const b of chain.blocks) metadata.add(b.pa);
      v1.set(f.data, {
        size: d.size,
        pos: d.pos,
        extents: readExtents(arena, chain, d.size, f.data),
      });
    }
  }
  return { metadata, v1 };
}

/** Claims every handed-over region: metadata is freed, everything else preserved again as it is. */
function keepData(arena: Arena, metadata: Set<bigint>): void {
  for (const r of [...arena.regions("handed-over")]) {
    arena.restore(r.pa);
    if (metadata.has(r.pa)) arena.free(r.pa);
    else arena.preserve(r.pa, r.pages * PAGE_SIZE);
  }
}

/** A memfd-v2 descriptor (in `slab`) for a memfd-v1 file; its data pages are untouched. */
function toV2(
  arena: Arena,
  slab: DescriptorSlab,
  token: bigint,
  old: OldMemfd,
  maxBlocks: number,
): NewFile {
  let extentsPa = 0n;
  if (old.extents.length > MEMFD_V2_SER.inlineCount) {
    const chain = BlockChain.outgoing(arena, EXTENT_CHAIN, maxBlocks);
    chain.reserve(old.extents.length);
    writeExtents(chain, old.extents);
    extentsPa = chain.head;
  }
  const slot = slab.alloc();
  writeMemfdV2(arena, slot, {
    size: old.size,
    pos: old.pos,
    seals: 0,
    nextents: old.extents.length,
    inline: extentsPa ? [] : old.extents,
    extentsPa,
  });
  return { compatible: MEMFD_V2, data: slot, token };
}

/** A v4 file chain holding `files`. */
function writeFiles(arena: Arena, files: readonly NewFile[], maxBlocks: number): BlockChain {
  const chain = BlockChain.outgoing(arena, FILE_CHAIN, maxBlocks);
  chain.reserve(files.length);
  const fields = new Map<string, Uint8Array>();
  chain.fill(files.length, (dv, bytes, off, i) => {
    const f = files[i];
    let field = fields.get(f.compatible);
    if (!field) fields.set(f.compatible, field = compatibleField(f.compatible));
    const [lo, hi] = tokenHalves(f.token);
    writeFileEntry(dv, bytes, off, field, f.data, lo, hi);
  });
  return chain;
}

/** The FLB chain of the new image: the old entries, memfd-v2's count raised by the converted files. */
function writeFlbs(arena: Arena, image: Image, converted: number, maxBlocks: number): bigint {
  const entries = image.flbs.map((e) => ({ ...e }));
  if (converted > 0) {
    const pages = entries.find((e) => e.compatible === MEMFD_V2_PAGES);
    if (pages) pages.count += converted;
    else entries.push({ compatible: MEMFD_V2_PAGES, data: 0n, count: converted });
  }
  if (!entries.length) return 0n;
  const chain = BlockChain.outgoing(arena, FLB_CHAIN, maxBlocks);
  chain.reserve(entries.length);
  writeFlbEntries(chain, entries.map((e) => ({ ...e, field: compatibleField(e.compatible) })));
  return chain.head;
}
