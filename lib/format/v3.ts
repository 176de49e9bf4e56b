/**
 * The previous, single-block session format (`luo-session-v3`), written
 * and read here only: one 65536-byte session block `{ u64 count }`
 * followed by that many 80-byte `luo_session_ser` entries, and per session
 * one contiguous 8192-byte array of at most 128 `luo_file_ser` entries,
 * with no block header. The successor reads it directly; `convert`
 * rewrites it as v4; the writer exists for tests and benchmarks.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../errors.ts";
import { type Arena, PAGE_SIZE, PHYS_BASE } from "../kho/arena.ts";
import { utf8 } from "./c_string.ts";
import { compatibleField, FILE_SER, writeFileEntry } from "./file_ser.ts";
import {
  readSessionEntry,
  SESSION_SER,
  type SessionEntry,
  writeSessionEntry,
} from "./session_ser.ts";
import { tokenHalves } from "./token_index.ts";

/** luo-session-v3 sizes and limits. */
export const V3 = {
  sessionBlockSize: 65536,
  sessionHeader: 8,
  maxSessions: Math.floor((65536 - 8) / SESSION_SER.size),
  fileBlockSize: 8192,
  maxFiles: 128,
} as const;

/** A file to write into a v3 image. */
export interface V3File {
  compatible: string;
  data: bigint;
  token: bigint;
}

function checkBlock(arena: Arena, pa: bigint, size: number, what: string): void {
  if ((pa - PHYS_BASE) % BigInt(PAGE_SIZE) !== 0n) {
    throw new CorruptImageError(`${what} is not page-aligned`, pa);
  }
  if (!arena.contains(pa, size)) throw new CorruptImageError(`${what} is outside the arena`, pa);
}

/**
 * Reads the session entries of the v3 session block at `header` (0: no
 * sessions), checking the block and every file array lie inside the arena,
 * at most {@link V3.maxSessions} sessions and {@link V3.maxFiles} files each.
 * Claims nothing.
 */
export function readV3Sessions(arena: Arena, header: bigint): SessionEntry[] {
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
  const names = new Set<string>();
  const sessions: SessionEntry[] = [];
  for (let i = 0; i < Number(count); i++) {
    const at = V3.sessionHeader + i * SESSION_SER.size;
    const s = readSessionEntry(dv, bytes, off + at, i, header + BigInt(at), names);
    if (s.count > BigInt(V3.maxFiles)) {
      throw new CorruptImageError(
        `v3 session "${s.name}": ${s.count} files, at most ${V3.maxFiles}`,
        s.pa + BigInt(SESSION_SER.count),
      );
    }
    if (s.count > 0n) {
      checkBlock(arena, s.files, V3.fileBlockSize, `v3 file array of session "${s.name}"`);
    }
    sessions.push(s);
  }
  return sessions;
}

/**
 * Writes a v3 session block and file arrays for `sessions` in preserved
 * pages; returns the session block's address (the `luo-session-header`).
 */
export function writeV3Sessions(
  arena: Arena,
  sessions: readonly { name: string; files: readonly V3File[] }[],
): bigint {
  if (sessions.length > V3.maxSessions) {
    throw new LuoError("EINVAL", `v3: ${sessions.length} sessions, at most ${V3.maxSessions}`);
  }
  const header = arena.allocPreserve(V3.sessionBlockSize, { zero: true });
  const dv = arena.dataView;
  const bytes = arena.memory;
  const off = arena.offsetOf(header, V3.sessionBlockSize);
  dv.setBigUint64(off, BigInt(sessions.length), true);
  for (const [i, s] of sessions.entries()) {
    if (s.files.length > V3.maxFiles) {
      throw new LuoError("EINVAL", `v3 session "${s.name}": over ${V3.maxFiles} files`);
    }
    const array = s.files.length ? arena.allocPreserve(V3.fileBlockSize, { zero: true }) : 0n;
    for (const [k, f] of s.files.entries()) {
      const fo = arena.offsetOf(array, V3.fileBlockSize) + k * FILE_SER.size;
      const [lo, hi] = tokenHalves(f.token);
      writeFileEntry(dv, bytes, fo, compatibleField(f.compatible), f.data, lo, hi);
    }
    const at = off + V3.sessionHeader + i * SESSION_SER.size;
    writeSessionEntry(dv, bytes, at, utf8(s.name), array, s.files.length);
  }
  return header;
}
