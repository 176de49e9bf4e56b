/**
 * Byte layouts of every serialized structure, defined once and used by
 * writers and readers alike. Little-endian, packed, byte-identical to the C
 * structs of the contract:
 *
 * ```
 * block header       { u64 next;  u64 count; }                         16
 * luo_file_ser       { char compatible[48]; u64 data; u64 token; }      64
 * luo_file_set_ser   { u64 files; u64 count; }                          16
 * luo_session_ser    { char name[64]; luo_file_set_ser file_set_ser; }  80
 * memfd_ser          { u64 size; u64 pos; u64 extents_pa; u64 nextents; } 32
 * extent             { u64 pa; u64 npages; }                            16
 * ```
 *
 * @module
 */

/** Generic block header `{ u64 next; u64 count; }`. */
export const BLOCK_HEADER = { size: 16, next: 0, count: 8 } as const;

/** The geometry of one kind of block chain. */
export interface ChainLayout {
  /** What the chain holds, for error messages ("session", "file", ...). */
  readonly what: string;
  /** Bytes per block, a multiple of the page size. */
  readonly blockSize: number;
  /** Bytes per entry. */
  readonly entrySize: number;
  /** Entries per block: (blockSize - header) / entrySize. */
  readonly perBlock: number;
}

function layout(what: string, blockSize: number, entrySize: number): ChainLayout {
  return {
    what,
    blockSize,
    entrySize,
    perBlock: Math.floor((blockSize - BLOCK_HEADER.size) / entrySize),
  };
}

/** `luo_file_ser`: one preserved file. */
export const FILE_SER = {
  size: 64,
  compatible: 0,
  compatibleLen: 48,
  data: 48,
  token: 56,
} as const;
/** `luo_file_set_ser`: a session's files. */
export const FILE_SET_SER = { size: 16, files: 0, count: 8 } as const;
/** `luo_session_ser`: one session. */
export const SESSION_SER = {
  size: 80,
  name: 0,
  nameLen: 64,
  fileSet: 64,
  files: 64 + FILE_SET_SER.files,
  count: 64 + FILE_SET_SER.count,
} as const;
/** `memfd_ser`: the descriptor page of a memfd-v1 file. */
export const MEMFD_SER = { size: 32, fileSize: 0, pos: 8, extentsPa: 16, nextents: 24 } as const;
/** `value_ser`: the descriptor page of a value-v1 file (structured-clone bytes). */
export const VALUE_SER = { size: 32, length: 0, dataPa: 8, npages: 16, version: 24 } as const;
/** One extent `{ u64 pa; u64 npages; }`. */
export const EXTENT = { size: 16, pa: 0, npages: 8 } as const;

/** File blocks: 8192 bytes, 127 files each. */
export const FILE_CHAIN: ChainLayout = layout("file", 8192, FILE_SER.size);
/** Session blocks: 8192 bytes, 102 sessions each. */
export const SESSION_CHAIN: ChainLayout = layout("session", 8192, SESSION_SER.size);
/** memfd extent blocks: 4096 bytes, 255 extents each. */
export const EXTENT_CHAIN: ChainLayout = layout("memfd extent", 4096, EXTENT.size);

/**
 * The native preserved-memory map (written by native/, read here by
 * inspection): 4096-byte blocks of `{ u64 pa; u64 npages; }`, 255 each.
 */
export const MEM_MAP_CHAIN: ChainLayout = layout("preserved-memory map", 4096, EXTENT.size);

/** Arena header field offsets (the arena file layout contract; see native/arena.zig). */
export const ARENA_HEADER = {
  magic: 0,
  version: 8,
  pageSize: 12,
  size: 16,
  physBase: 24,
  fdtPa: 32,
  memMapPa: 40,
  handovers: 48,
  length: 56,
} as const;

/** Default safety cap on the blocks of one chain (configurable per LiveUpdate). */
export const DEFAULT_MAX_BLOCKS = 1 << 20;

/** Compatible strings and FDT names. */
export const COMPAT = {
  kho: "kho-v1",
  luo: "luo-v1",
  sessionV4: "luo-session-v4",
  sessionV3: "luo-session-v3",
  memfd: "memfd-v1",
  value: "value-v1",
} as const;

/** Session block formats this build reads, newest first. */
export const SESSION_FORMATS: readonly string[] = [COMPAT.sessionV4, COMPAT.sessionV3];

/** Node and property names of the KHO and LUO device trees. */
export const FDT_NAMES = {
  compatible: "compatible",
  luoNode: "LUO",
  fdtProp: "fdt",
  liveupdateNumber: "liveupdate-number",
  sessionNode: "luo-session",
  sessionHeader: "luo-session-header",
} as const;

/** luo-session-v3 (single-block) layout: `{ u64 count }` then session entries. */
export const V3 = {
  sessionBlockSize: 65536,
  sessionHeader: 8,
  maxSessions: Math.floor((65536 - 8) / SESSION_SER.size),
  fileBlockSize: 8192,
  maxFiles: 128,
} as const;

/** Longest session name in bytes (NUL must fit in 64). */
export const MAX_NAME_BYTES = SESSION_SER.nameLen - 1;
/** Longest compatible string in bytes (NUL must fit in 48). */
export const MAX_COMPAT_BYTES = FILE_SER.compatibleLen - 1;

/** Largest u64 value. */
export const U64_MAX = (1n << 64n) - 1n;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * Reads a NUL-terminated string from a fixed-size field; `null` when there
 * is no NUL inside the field or the bytes are not UTF-8.
 */
export function readCString(bytes: Uint8Array, off: number, len: number): string | null {
  const field = bytes.subarray(off, off + len);
  const end = field.indexOf(0);
  if (end < 0) return null;
  try {
    return decoder.decode(field.subarray(0, end));
  } catch {
    return null;
  }
}

/** Writes `s` NUL-padded into a fixed-size field (the caller checked its length). */
export function writeCString(bytes: Uint8Array, off: number, len: number, s: Uint8Array): void {
  bytes.set(s, off);
  bytes.fill(0, off + s.length, off + len);
}

/** Writes one `luo_file_ser` at byte offset `off`. */
export function writeFileEntry(
  dv: DataView,
  bytes: Uint8Array,
  off: number,
  compat: Uint8Array,
  data: bigint,
  token: bigint,
): void {
  writeCString(bytes, off + FILE_SER.compatible, FILE_SER.compatibleLen, compat);
  dv.setBigUint64(off + FILE_SER.data, data, true);
  dv.setBigUint64(off + FILE_SER.token, token, true);
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
