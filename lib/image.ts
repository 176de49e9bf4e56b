/**
 * The handed-over image: the KHO root FDT, the LUO FDT and the session and
 * file block chains. {@link writeRoots} builds the device trees;
 * {@link readImage} validates everything and returns plain records, either
 * claiming and freeing the metadata pages (a successor) or touching nothing
 * (inspection).
 *
 * @module
 */

import {
  BLOCK_HEADER,
  COMPAT,
  FDT_NAMES,
  FILE_CHAIN,
  readCString,
  SESSION_CHAIN,
  SESSION_FORMATS,
  SESSION_SER,
} from "./abi.ts";
import { BlockChain, type ChainBlock, claimBlock } from "./block.ts";
import { CorruptImageError } from "./errors.ts";
import {
  child,
  type FdtNode,
  fdtTotalSize,
  getString,
  getU64,
  node,
  readFdt,
  strProp,
  u64Prop,
  writeFdt,
} from "./fdt.ts";
import { CompatTable, FileEntries } from "./file_entries.ts";
import { type Arena, blockPages, PAGE_SIZE } from "./kho.ts";
import { readV3Sessions } from "./v3.ts";

/** One handed-over session as read from the image. */
export interface SessionRecord {
  name: string;
  /** Where its `luo_session_ser` entry is. */
  pa: bigint;
  /** Physical address of its first file block. */
  filesPa: bigint;
  /** Its validated file entries, read in place. */
  entries: FileEntries;
  /** File blocks with their entry counts, in chain order (claimed when reading with `claim`). */
  fileBlocks: ChainBlock[];
}

/** Everything read from a handed-over image. */
export interface Image {
  khoRoot: bigint;
  luoFdt: bigint;
  liveupdateNumber: bigint;
  /** Session format found (`luo-session-v4` or `luo-session-v3`). */
  format: string;
  sessionHeader: bigint;
  /** Session blocks with their entry counts, in chain order. */
  sessionBlocks: ChainBlock[];
  sessions: SessionRecord[];
  /** The decoded device trees. */
  kho: FdtNode;
  luo: FdtNode;
}

/** Options of {@link readImage}. */
export interface ReadOptions {
  /** Claim the metadata pages and free them after reading (false: read only). */
  claim: boolean;
  /** Block cap per chain. */
  maxBlocks: number;
  /** Whether a file's compatible string is known. */
  known: (compatible: string) => boolean;
  /** Compatible strings seen so far (shared by every session of one image). */
  compats?: CompatTable;
}

/** Builds the LUO FDT. */
export function luoFdt(liveupdateNumber: bigint, sessionHeader: bigint): Uint8Array {
  return writeFdt(
    node("", {
      compatible: strProp(COMPAT.luo),
      [FDT_NAMES.liveupdateNumber]: u64Prop(liveupdateNumber),
    }, [
      node(FDT_NAMES.sessionNode, {
        compatible: strProp(COMPAT.sessionV4),
        [FDT_NAMES.sessionHeader]: u64Prop(sessionHeader),
      }),
    ]),
  );
}

/** Builds the KHO root FDT pointing at the LUO FDT. */
export function khoFdt(luoPa: bigint): Uint8Array {
  return writeFdt(
    node("", { compatible: strProp(COMPAT.kho) }, [
      node(FDT_NAMES.luoNode, { [FDT_NAMES.fdtProp]: u64Prop(luoPa) }),
    ]),
  );
}

/**
 * Places the LUO and KHO device trees in preserved pages (their addresses
 * are pushed to `pages` so that a failed handover can free them) and
 * returns the KHO root's physical address.
 */
export function placeRoots(
  arena: Arena,
  liveupdateNumber: bigint,
  sessionHeader: bigint,
  pages: bigint[],
): bigint {
  const place = (blob: Uint8Array) => {
    const pa = arena.allocPreserve(blockPages(blob.length) * PAGE_SIZE);
    pages.push(pa);
    arena.bytes(pa, blob.length).set(blob);
    return pa;
  };
  return place(khoFdt(place(luoFdt(liveupdateNumber, sessionHeader))));
}

/** Reads (and with `claim`, claims then frees) the FDT at `pa`. */
function loadFdt(arena: Arena, pa: bigint, what: string, claim: boolean): FdtNode {
  if (!arena.contains(pa, PAGE_SIZE)) {
    throw new CorruptImageError(`${what} is outside the arena`, pa);
  }
  const total = fdtTotalSize(arena.bytes(pa, Math.min(40, arena.size - arena.offsetOf(pa, 0))), pa);
  if (!arena.contains(pa, total)) {
    throw new CorruptImageError(`${what}: totalsize ${total} runs past the arena`, pa);
  }
  if (claim) claimBlock(arena, pa, blockPages(total) * PAGE_SIZE, what);
  try {
    return readFdt(arena.bytes(pa, total).slice(), pa);
  } finally {
    if (claim) arena.free(pa);
  }
}

function compatOf(n: FdtNode, what: string, where: bigint, want: readonly string[]): string {
  const c = getString(n, FDT_NAMES.compatible);
  if (c === null) throw new CorruptImageError(`${what}: no compatible property`, where);
  if (!want.includes(c)) {
    throw new CorruptImageError(
      `${what}: compatible "${c}" is not supported; this build reads ${want.join(", ")}`,
      where,
      "EPROTO",
    );
  }
  return c;
}

/** Reads and validates the image published at `root`. */
export function readImage(arena: Arena, root: bigint, options: ReadOptions): Image {
  const opts = { ...options, compats: options.compats ?? new CompatTable(options.known) };
  const kho = loadFdt(arena, root, "KHO root FDT", opts.claim);
  compatOf(kho, "KHO root FDT", root, [COMPAT.kho]);
  const luoNode = child(kho, FDT_NAMES.luoNode);
  if (!luoNode) {
    throw new CorruptImageError(`KHO root FDT has no "${FDT_NAMES.luoNode}" node`, root);
  }
  const luoPa = getU64(luoNode, FDT_NAMES.fdtProp);
  if (luoPa === null) throw new CorruptImageError(`KHO node "LUO" has no u64 "fdt" property`, root);
  const luo = loadFdt(arena, luoPa, "LUO FDT", opts.claim);
  compatOf(luo, "LUO FDT", luoPa, [COMPAT.luo]);
  const liveupdateNumber = getU64(luo, FDT_NAMES.liveupdateNumber);
  if (liveupdateNumber === null) {
    throw new CorruptImageError(`LUO FDT has no u64 "liveupdate-number"`, luoPa);
  }
  const sessNode = child(luo, FDT_NAMES.sessionNode);
  if (!sessNode) {
    throw new CorruptImageError(`LUO FDT has no "${FDT_NAMES.sessionNode}" node`, luoPa);
  }
  const format = compatOf(sessNode, `LUO node "${FDT_NAMES.sessionNode}"`, luoPa, SESSION_FORMATS);
  const sessionHeader = getU64(sessNode, FDT_NAMES.sessionHeader);
  if (sessionHeader === null) {
    throw new CorruptImageError(`LUO session node has no u64 "luo-session-header"`, luoPa);
  }
  const base = { khoRoot: root, luoFdt: luoPa, liveupdateNumber, format, sessionHeader, kho, luo };
  if (format === COMPAT.sessionV3) {
    const v3 = readV3Sessions(arena, sessionHeader, opts);
    return {
      ...base,
      sessionBlocks: sessionHeader ? [{ pa: sessionHeader, count: v3.length }] : [],
      sessions: v3,
    };
  }
  const sessions: SessionRecord[] = [];
  const names = new Set<string>();
  try {
    const blocks = BlockChain.restore(
      arena,
      SESSION_CHAIN,
      sessionHeader,
      { maxBlocks: opts.maxBlocks, claim: opts.claim, what: "session chain" },
      (dv, bytes, off, i, pa) => {
        const name = readSessionName(bytes, off, i, pa, names);
        const filesPa = dv.getBigUint64(off + SESSION_SER.files, true);
        const count = dv.getBigUint64(off + SESSION_SER.count, true);
        if (count > BigInt(opts.maxBlocks * FILE_CHAIN.perBlock)) {
          throw new CorruptImageError(
            `session "${name}": file count ${count} is over the cap`,
            pa + BigInt(SESSION_SER.count),
            "ENOSPC",
          );
        }
        sessions.push(readFiles(arena, name, pa, filesPa, Number(count), opts));
      },
    );
    return { ...base, sessionBlocks: blocks, sessions };
  } catch (e) {
    releaseFileBlocks(arena, sessions, opts);
    throw e;
  }
}

/** Frees the claimed file blocks of `sessions` (after a failed read). */
export function releaseFileBlocks(
  arena: Arena,
  sessions: SessionRecord[],
  opts: { claim: boolean },
): void {
  if (!opts.claim) return;
  for (const s of sessions) for (const b of s.fileBlocks) arena.free(b.pa);
}

/** Validates a session name field (NUL-terminated, non-empty, unique). */
export function readSessionName(
  bytes: Uint8Array,
  off: number,
  i: number,
  pa: bigint,
  names: Set<string>,
): string {
  const name = readCString(bytes, off + SESSION_SER.name, SESSION_SER.nameLen);
  if (name === null) {
    throw new CorruptImageError(
      `session ${i}: name has no NUL within 64 bytes or is not UTF-8`,
      pa,
    );
  }
  // The NUL is within the 64-byte field, so the name has at most 63 bytes.
  if (name.length === 0) throw new CorruptImageError(`session ${i}: empty name`, pa);
  if (names.has(name)) throw new CorruptImageError(`session ${i}: duplicate name "${name}"`, pa);
  names.add(name);
  return name;
}

function readFiles(
  arena: Arena,
  name: string,
  pa: bigint,
  filesPa: bigint,
  count: number,
  opts: ReadOptions,
): SessionRecord {
  if (count === 0 && filesPa !== 0n) {
    throw new CorruptImageError(
      `session "${name}": no files but a file block pointer`,
      pa + BigInt(SESSION_SER.files),
    );
  }
  const what = `file chain of session "${name}"`;
  const fileBlocks = BlockChain.claimChain(arena, FILE_CHAIN, filesPa, {
    expected: count,
    maxBlocks: opts.maxBlocks,
    claim: opts.claim,
    what,
  });
  try {
    const segments = fileBlocks.map((b) => ({
      pa: b.pa + BigInt(BLOCK_HEADER.size),
      count: b.count,
    }));
    const entries = FileEntries.read(
      arena,
      segments,
      name,
      opts.compats ?? new CompatTable(opts.known),
    );
    return { name, pa, filesPa, entries, fileBlocks };
  } catch (e) {
    if (opts.claim) { for (const b of fileBlocks) arena.free(b.pa); }
    throw e;
  }
}
