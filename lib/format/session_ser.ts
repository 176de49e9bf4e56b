/**
 * `luo_session_ser`: one handed-over session, 80 bytes, written and read
 * here only.
 *
 * ```
 * luo_file_set_ser   { u64 files; u64 count; }                          16
 * luo_session_ser    { char name[64]; luo_file_set_ser file_set_ser; }  80
 * ```
 *
 * Sessions are chained in 8192-byte blocks of 102 entries.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../errors.ts";
import { type ChainLayout, chainLayout } from "./block.ts";
import { checkCString, readCString, writeCString } from "./c_string.ts";

/** `luo_file_set_ser`: a session's files. */
export const FILE_SET_SER = { size: 16, files: 0, count: 8 } as const;

/** `luo_session_ser` field offsets and sizes. */
export const SESSION_SER = {
  size: 80,
  name: 0,
  nameLen: 64,
  fileSet: 64,
  files: 64 + FILE_SET_SER.files,
  count: 64 + FILE_SET_SER.count,
} as const;

/** Session blocks: 8192 bytes, 102 sessions each. */
export const SESSION_CHAIN: ChainLayout = chainLayout("session", 8192, SESSION_SER.size);

/** Longest session name in bytes (its NUL must fit in the 64-byte field). */
export const MAX_NAME_BYTES = SESSION_SER.nameLen - 1;

/**
 * Validates a session name for the 64-byte field: a well-formed string of
 * 1..63 UTF-8 bytes without NUL (`EINVAL` otherwise). Returns its bytes.
 */
export function sessionNameBytes(name: unknown): Uint8Array {
  const r = checkCString(name, SESSION_SER.nameLen);
  if ("why" in r) {
    const shown = typeof name === "string" ? JSON.stringify(name) : String(name);
    throw new LuoError("EINVAL", `session name ${shown} ${r.why}`);
  }
  return r.bytes;
}

/** One session entry as read back. */
export interface SessionEntry {
  /** The session's name. */
  name: string;
  /** Physical address of the entry itself. */
  pa: bigint;
  /** Physical address of the first file block (0 when there are no files). */
  files: bigint;
  /** Total files of the session, as the entry says. */
  count: bigint;
}

/** Writes one `luo_session_ser` at byte offset `off`. */
export function writeSessionEntry(
  dv: DataView,
  bytes: Uint8Array,
  off: number,
  name: Uint8Array,
  files: bigint,
  count: number,
): void {
  writeCString(bytes, off + SESSION_SER.name, SESSION_SER.nameLen, name);
  dv.setBigUint64(off + SESSION_SER.files, files, true);
  dv.setBigUint64(off + SESSION_SER.count, BigInt(count), true);
}

/**
 * Reads the session entry at byte offset `off` (physical address `pa`),
 * entry number `i`: the name NUL-terminated within its 64 bytes, UTF-8,
 * non-empty and not in `names` (which it joins); no file pointer without
 * files. Every violation is a {@link CorruptImageError} naming where.
 */
export function readSessionEntry(
  dv: DataView,
  bytes: Uint8Array,
  off: number,
  i: number,
  pa: bigint,
  names: Set<string>,
): SessionEntry {
  const name = readCString(bytes, off + SESSION_SER.name, SESSION_SER.nameLen);
  if (name === null) {
    throw new CorruptImageError(
      `session ${i}: name has no NUL within 64 bytes or is not UTF-8`,
      pa,
    );
  }
  if (name.length === 0) throw new CorruptImageError(`session ${i}: empty name`, pa);
  if (names.has(name)) throw new CorruptImageError(`session ${i}: duplicate name "${name}"`, pa);
  names.add(name);
  const files = dv.getBigUint64(off + SESSION_SER.files, true);
  const count = dv.getBigUint64(off + SESSION_SER.count, true);
  if (count === 0n && files !== 0n) {
    throw new CorruptImageError(
      `session "${name}": no files but a file block pointer`,
      pa + BigInt(SESSION_SER.files),
    );
  }
  return { name, pa, files, count };
}
