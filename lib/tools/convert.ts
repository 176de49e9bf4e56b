/**
 * Rewrites a handed-over image of the previous format (`luo-session-v3`)
 * as `luo-session-v4`, in place and atomically: the new chains and device
 * trees are written to fresh pages, every other handed-over region (file
 * data) is carried over unchanged, and the switch is the arena's journaled
 * header commit. A crash at any point leaves the v3 image or the v4 one.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import { BlockChain, DEFAULT_MAX_BLOCKS } from "../format/block.ts";
import { compatibleField, FILE_CHAIN, writeFileEntry } from "../format/file_ser.ts";
import { placeRoots, ROOT_COMPAT } from "../format/roots.ts";
import { SESSION_CHAIN, writeSessionEntry } from "../format/session_ser.ts";
import { tokenHalves } from "../format/token_index.ts";
import { utf8 } from "../format/c_string.ts";
import { Arena, type ArenaOptions, PAGE_SIZE } from "../kho/arena.ts";
import { type Image, readImage } from "../luo/image.ts";

/** What {@link convertArena} did. */
export interface ConvertResult {
  /** Format found. */
  from: string;
  /** Format written (the same as `from` when nothing was to do). */
  to: string;
  /** Sessions in the image. */
  sessions: number;
  /** Files in the image, in all sessions. */
  files: number;
  /** The image's `liveupdate-number` (kept). */
  liveupdateNumber: bigint;
}

/**
 * Converts the image in the arena at `path` to `luo-session-v4`. An image
 * that is v4 already is left alone; an unknown format is refused (`EPROTO`,
 * naming the format found and the ones supported).
 *
 * @example
 * ```ts ignore
 * import { convertArena } from "@luo/live-update/tools";
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
    to: ROOT_COMPAT.sessionV4,
    sessions: image.sessions.length,
    files: image.sessions.reduce((a, s) => a + s.entries.count, 0),
    liveupdateNumber: image.liveupdateNumber,
  };
  if (image.format === ROOT_COMPAT.sessionV4) return result;
  keepData(arena, image);
  const sessionChain = BlockChain.outgoing(arena, SESSION_CHAIN, maxBlocks);
  sessionChain.reserve(image.sessions.length);
  const fileChains = image.sessions.map((s) => writeFiles(arena, s.entries, maxBlocks));
  sessionChain.fill(image.sessions.length, (dv, bytes, off, i) => {
    const s = image.sessions[i];
    writeSessionEntry(dv, bytes, off, utf8(s.entry.name), fileChains[i].head, s.entries.count);
  });
  arena.handover(
    placeRoots(arena, {
      liveupdateNumber: image.liveupdateNumber,
      sessionHeader: sessionChain.head,
    }, []),
  );
  return result;
}

/**
 * Claims every handed-over region: the v3 metadata (device trees, session
 * block, file arrays) is freed, everything else is file data and is
 * preserved again as it is.
 */
function keepData(arena: Arena, image: Image): void {
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
}

/** A v4 file chain holding the same entries. */
function writeFiles(
  arena: Arena,
  entries: Image["sessions"][number]["entries"],
  maxBlocks: number,
): BlockChain {
  const chain = BlockChain.outgoing(arena, FILE_CHAIN, maxBlocks);
  chain.reserve(entries.count);
  const fields = new Map<string, Uint8Array>();
  chain.fill(entries.count, (dv, bytes, off, i) => {
    const c = entries.compatible(i);
    let field = fields.get(c);
    if (!field) fields.set(c, field = compatibleField(c));
    const [lo, hi] = tokenHalves(entries.token(i));
    writeFileEntry(dv, bytes, off, field, entries.data(i), lo, hi);
  });
  return chain;
}
