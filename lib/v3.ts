/**
 * Reader of the previous, single-block format (`luo-session-v3`): one
 * 65536-byte session block `{ u64 count }` followed by that many 80-byte
 * session entries, and per session one contiguous 8192-byte array of at
 * most 128 file entries, with no header.
 *
 * @module
 */

import { SESSION_SER, V3 } from "./abi.ts";
import { claimBlock } from "./block.ts";
import { CorruptImageError } from "./errors.ts";
import { CompatTable, FileEntries } from "./file_entries.ts";
import { type ReadOptions, readSessionName, type SessionRecord } from "./image.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "./kho.ts";

function checkBlock(arena: Arena, pa: bigint, size: number, what: string): void {
  if ((pa - PHYS_BASE) % BigInt(PAGE_SIZE) !== 0n) {
    throw new CorruptImageError(`${what} is not page-aligned`, pa);
  }
  if (!arena.contains(pa, size)) throw new CorruptImageError(`${what} is outside the arena`, pa);
}

/** Reads every session of a v3 image whose session block is at `header`. */
export function readV3Sessions(arena: Arena, header: bigint, opts: ReadOptions): SessionRecord[] {
  if (header === 0n) return [];
  checkBlock(arena, header, V3.sessionBlockSize, "v3 session block");
  const dv = arena.dataView;
  const bytes = arena.memory;
  const off = arena.offsetOf(header, V3.sessionBlockSize);
  const count = dv.getBigUint64(off, true);
  if (count > BigInt(V3.maxSessions)) {
    throw new CorruptImageError(
      `v3 session block: count ${count} is over ${V3.maxSessions}`,
      header,
    );
  }
  const claimed: bigint[] = [];
  const claim = (pa: bigint, size: number, what: string) => {
    if (!opts.claim) return;
    claimBlock(arena, pa, size, what);
    claimed.push(pa);
  };
  const sessions: SessionRecord[] = [];
  try {
    claim(header, V3.sessionBlockSize, "v3 session block");
    const names = new Set<string>();
    for (let i = 0; i < Number(count); i++) {
      const e = off + V3.sessionHeader + i * SESSION_SER.size;
      const pa = header + BigInt(V3.sessionHeader + i * SESSION_SER.size);
      const name = readSessionName(bytes, e, i, pa, names);
      const filesPa = dv.getBigUint64(e + SESSION_SER.files, true);
      const n = dv.getBigUint64(e + SESSION_SER.count, true);
      if (n > BigInt(V3.maxFiles)) {
        throw new CorruptImageError(
          `v3 session "${name}": ${n} files, at most ${V3.maxFiles}`,
          pa + BigInt(SESSION_SER.count),
        );
      }
      if (n === 0n && filesPa !== 0n) {
        throw new CorruptImageError(`v3 session "${name}": no files but a file array pointer`, pa);
      }
      const fileBlocks = n > 0n ? [{ pa: filesPa, count: Number(n) }] : [];
      if (n > 0n) {
        const what = `v3 file array of session "${name}"`;
        checkBlock(arena, filesPa, V3.fileBlockSize, what);
        claim(filesPa, V3.fileBlockSize, what);
      }
      const entries = FileEntries.read(
        arena,
        fileBlocks,
        name,
        opts.compats ?? new CompatTable(opts.known),
      );
      sessions.push({ name, pa, filesPa, entries, fileBlocks });
    }
    // The session block is done with; the file arrays stay claimed for the sessions.
    if (opts.claim) arena.free(header);
    return sessions;
  } catch (e) {
    for (const pa of claimed) arena.free(pa);
    throw e;
  }
}
