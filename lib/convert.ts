/**
 * Rewrites a handed-over image of the previous format (`luo-session-v3`)
 * as `luo-session-v4`, in place and atomically: the new chains and device
 * trees are written to fresh pages, every other handed-over region (file
 * data) is carried over unchanged, and the switch is the arena's journaled
 * header commit. A crash at any point leaves the v3 image or the v4 one.
 *
 * @module
 */

import {
  COMPAT,
  DEFAULT_MAX_BLOCKS,
  FILE_CHAIN,
  SESSION_CHAIN,
  utf8,
  writeFileEntry,
  writeSessionEntry,
} from "./abi.ts";
import { BlockChain } from "./block.ts";
import { LuoError } from "./errors.ts";
import { placeRoots, readImage } from "./image.ts";
import { Arena, type ArenaOptions, PAGE_SIZE } from "./kho.ts";

/** What {@link convertArena} did. */
export interface ConvertResult {
  /** Format found. */
  from: string;
  /** Format written (the same as `from` when nothing was to do). */
  to: string;
  sessions: number;
  files: number;
  liveupdateNumber: bigint;
}

/**
 * Converts the image in the arena at `path` to `luo-session-v4`. An image
 * that is v4 already is left alone; an unknown format is refused (`EPROTO`,
 * naming the format found and the ones supported).
 *
 * @example
 * ```ts ignore
 * const r = convertArena("/dev/shm/old.arena");
 * console.log(`${r.from} -> ${r.to}: ${r.sessions} sessions`);
 * ```
 */
export function convertArena(
  path: string,
  options: ArenaOptions & { maxBlocks?: number } = {},
): ConvertResult {
  using arena = Arena.open(path, options);
  const root = arena.incomingRoot;
  if (root === 0n) throw new LuoError("ENOENT", `arena ${path} has nothing handed over to convert`);
  const maxBlocks = options.maxBlocks ?? DEFAULT_MAX_BLOCKS;
  const image = readImage(arena, root, { claim: false, maxBlocks, known: () => true });
  const result = {
    from: image.format,
    to: COMPAT.sessionV4,
    sessions: image.sessions.length,
    files: image.sessions.reduce((a, s) => a + s.entries.count, 0),
    liveupdateNumber: image.liveupdateNumber,
  };
  if (image.format === COMPAT.sessionV4) return result;
  // The v3 metadata (FDTs, session block, file arrays) is replaced; every
  // other handed-over region is file data and stays preserved as it is.
  const metadata = new Set<bigint>([
    image.khoRoot,
    image.luoFdt,
    ...image.sessionBlocks.map((b) => b.pa),
  ]);
  for (const s of image.sessions) for (const b of s.fileBlocks) metadata.add(b.pa);
  for (const r of [...arena.regions("handed-over")]) {
    arena.restore(r.pa);
    if (metadata.has(r.pa)) arena.free(r.pa);
    else arena.preserve(r.pa, r.pages * PAGE_SIZE);
  }
  const sessionChain = new BlockChain(arena, SESSION_CHAIN, maxBlocks);
  sessionChain.reserve(image.sessions.length);
  const fileChains = image.sessions.map((s) => {
    const files = s.entries.records();
    const chain = new BlockChain(arena, FILE_CHAIN, maxBlocks);
    chain.reserve(files.length);
    chain.fill(files.length, (dv, bytes, off, i) => {
      const f = files[i];
      writeFileEntry(dv, bytes, off, utf8(f.compatible), f.data, f.token);
    });
    return chain;
  });
  sessionChain.fill(image.sessions.length, (dv, bytes, off, i) => {
    const s = image.sessions[i];
    writeSessionEntry(dv, bytes, off, utf8(s.name), fileChains[i].head, s.entries.count);
  });
  const fdtPages: bigint[] = [];
  arena.handover(placeRoots(arena, image.liveupdateNumber, sessionChain.head, fdtPages));
  return result;
}
