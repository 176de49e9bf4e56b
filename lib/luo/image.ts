/**
 * Reading a handed-over image: the root device trees, then the session
 * chain (or a v3 session block) and each session's file entries, then the
 * FLB chain, all validated. A successor claims the metadata pages (session blocks are
 * freed once read; each session's file blocks stay claimed until it is
 * finished); inspection claims nothing.
 *
 * @module
 */

import { BlockChain, type ChainBlock } from "../format/block.ts";
import { CompatTable } from "../format/compat_table.ts";
import { FILE_CHAIN, FileEntries } from "../format/file_ser.ts";
import { FLB_CHAIN, type FlbEntry, readFlbEntries } from "../format/flb_ser.ts";
import { readRoots, ROOT_COMPAT, type Roots } from "../format/roots.ts";
import { readSessionEntry, SESSION_CHAIN, type SessionEntry } from "../format/session_ser.ts";
import { readV3Sessions, V3 } from "../format/v3.ts";
import { CorruptImageError } from "../errors.ts";
import type { Arena } from "../kho/arena.ts";

/** One handed-over session as read from the image. */
export interface SessionRecord {
  /** Its `luo_session_ser` entry. */
  entry: SessionEntry;
  /** Its validated file entries, read in place. */
  entries: FileEntries;
  /** The blocks holding its entries (file blocks, or a v3 file array). */
  fileBlocks: readonly ChainBlock[];
  /** Frees what holds its entries (nothing when read without claiming). Idempotent. */
  release: () => void;
}

/** Everything read from a handed-over image. */
export interface Image extends Roots {
  /** Session blocks with their entry counts, in chain order. */
  sessionBlocks: readonly ChainBlock[];
  /** The sessions, in order. */
  sessions: SessionRecord[];
  /** The file-lifecycle-bound objects handed over (validated as entries only). */
  flbs: FlbEntry[];
  /** Blocks of the FLB chain. */
  flbBlocks: readonly ChainBlock[];
}

/** Options of {@link readImage}. */
export interface ReadOptions {
  /** Claim the metadata pages (a successor) or only read them (inspection). */
  claim: boolean;
  /** Block cap per chain. */
  maxBlocks: number;
  /** The known compatible strings (others are refused), or `"any"` (inspection). */
  known: readonly string[] | "any";
}

/** Reads and validates the image published at `root`. */
export function readImage(arena: Arena, root: bigint, options: ReadOptions): Image {
  const roots = readRoots(arena, root, options.claim);
  const compats = new CompatTable(options.known);
  const sessions: SessionRecord[] = [];
  try {
    const sessionBlocks = roots.format === ROOT_COMPAT.sessionV3
      ? readV3Image(arena, roots.sessionHeader, options, compats, sessions)
      : readV4Image(arena, roots.sessionHeader, options, compats, sessions);
    const files = sessions.reduce((a, r) => a + r.entries.count, 0);
    const flb = BlockChain.incoming(arena, FLB_CHAIN, roots.flbHeader, {
      maxBlocks: options.maxBlocks,
      claim: options.claim,
      what: "flb chain",
    });
    try {
      const flbs = readFlbEntries(flb, files);
      return { ...roots, sessionBlocks, sessions, flbs, flbBlocks: flb.blocks };
    } finally {
      flb.release();
    }
  } catch (e) {
    for (const s of sessions) s.release();
    throw e;
  }
}

function readV4Image(
  arena: Arena,
  header: bigint,
  options: ReadOptions,
  compats: CompatTable,
  out: SessionRecord[],
): readonly ChainBlock[] {
  const chain = BlockChain.incoming(arena, SESSION_CHAIN, header, {
    maxBlocks: options.maxBlocks,
    claim: options.claim,
    what: "session chain",
  });
  try {
    const names = new Set<string>();
    chain.forEachEntry((dv, bytes, off, i, pa) => {
      const entry = readSessionEntry(dv, bytes, off, i, pa, names);
      const cap = BigInt(options.maxBlocks * FILE_CHAIN.perBlock);
      if (entry.count > cap) {
        throw new CorruptImageError(
          `session "${entry.name}": file count ${entry.count} is over the cap`,
          pa,
          "ENOSPC",
        );
      }
      out.push(readV4Files(arena, entry, options, compats));
    });
    return chain.blocks;
  } finally {
    chain.release();
  }
}

function readV4Files(
  arena: Arena,
  entry: SessionEntry,
  options: ReadOptions,
  compats: CompatTable,
): SessionRecord {
  const entries = FileEntries.readChain(
    arena,
    {
      head: entry.files,
      expected: Number(entry.count),
      maxBlocks: options.maxBlocks,
      claim: options.claim,
      what: `file chain of session "${entry.name}"`,
    },
    entry.name,
    compats,
  );
  return {
    entry,
    entries,
    get fileBlocks() {
      return entries.runs;
    },
    release: () => entries.release(),
  };
}

function readV3Image(
  arena: Arena,
  header: bigint,
  options: ReadOptions,
  compats: CompatTable,
  out: SessionRecord[],
): readonly ChainBlock[] {
  const entries = readV3Sessions(arena, header);
  if (header === 0n) return [];
  if (options.claim) arena.claim(header, V3.sessionBlockSize, "v3 session block");
  try {
    for (const entry of entries) out.push(readV3Files(arena, entry, options, compats));
    return [{ pa: header, count: entries.length }];
  } finally {
    if (options.claim) arena.free(header);
  }
}

function readV3Files(
  arena: Arena,
  entry: SessionEntry,
  options: ReadOptions,
  compats: CompatTable,
): SessionRecord {
  const blocks = entry.count > 0n ? [{ pa: entry.files, count: Number(entry.count) }] : [];
  let owned = options.claim && blocks.length > 0;
  if (owned) arena.claim(entry.files, V3.fileBlockSize, `v3 file array of session "${entry.name}"`);
  const release = () => {
    if (owned) arena.free(entry.files);
    owned = false;
  };
  try {
    const entries = FileEntries.readArray(
      arena,
      entry.files,
      blocks[0]?.count ?? 0,
      entry.name,
      compats,
    );
    return { entry, entries, fileBlocks: blocks, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** How many handed-over files each compatible string has, over every session. */
export function filesByCompatible(image: Image): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of image.sessions) {
    for (const [c, n] of s.entries.compatibleCounts()) out.set(c, (out.get(c) ?? 0) + n);
  }
  return out;
}
