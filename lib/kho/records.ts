/**
 * The native one-pass reader of handed-over chains of fixed-size records
 * (`kho_read_records`, native/records.zig): it walks the chain (alignment,
 * bounds, cycle, block cap, counts, total), matches each record's tag
 * field against a table of tags, checks each record's u64 key unique (keys
 * in an arithmetic sequence need nothing more; others are indexed in an
 * open-addressing table laid out as `lib/format/token_index.ts` documents),
 * and claims the blocks; all checked before anything is claimed. It knows chains, not what the records mean: a failure comes
 * back as a {@link RecordsFailure} for the caller to word.
 *
 * @module
 */

import { codeOfNative, CorruptImageError, type ErrorCode, ERRORS, KhoError } from "../errors.ts";
import { checkNative } from "./native_error.ts";
import { nativeCall, type NativeCaller } from "./native_call.ts";
import type { Native } from "./symbols.ts";

/** Bytes of the native parameter struct (native/records.zig `Params`). */
const PARAMS_BYTES = 168;

/** Offsets of the parameter struct's fields. */
const P = {
  head: 0,
  expected: 8,
  maxBlocks: 16,
  blockCap: 24,
  indexSlots: 32,
  idsLen: 40,
  blockSize: 48,
  recordSize: 52,
  tagOffset: 56,
  tagSize: 60,
  keyOffset: 64,
  flags: 68,
  tagCap: 72,
  ntags: 76,
  seed: 80,
  reason: 84,
  nblocks: 88,
  nrecords: 96,
  failBlock: 104,
  failRecord: 112,
  failPa: 120,
  failValue: 128,
  failOther: 136,
  keyBase: 144,
  keyStep: 152,
  uniformTag: 160,
} as const;

/** Flags of `kho_read_records` (native/records.zig `ReadFlags`). */
const FLAGS = { claim: 1, expect: 2, array: 4, openTags: 8, sequence: 16 } as const;

/** Why a read failed, by the native `Reason` number. */
const REASONS = [
  "none",
  "cap",
  "unaligned",
  "outside",
  "cycle",
  "count",
  "total",
  "not-handed-over",
  "too-small",
  "tag-no-nul",
  "tag-not-utf8",
  "tag-unknown",
  "tags-full",
  "duplicate-key",
] as const;

/** The check a read failed. */
export type RecordsReason = Exclude<(typeof REASONS)[number], "none">;

/** What failed, and where: the caller words it (chain failures: {@link chainFailure}). */
export interface RecordsFailure {
  /** The check that failed. */
  reason: RecordsReason;
  /** The error code the native library returned (`EBADMSG`, or `ENOSPC` for the cap). */
  code: ErrorCode;
  /** Index of the block concerned (for `total`: the number of blocks). */
  block: number;
  /** Index of the record concerned (tag and key failures). */
  record: number;
  /** Physical address of the bad block, field or record. */
  pa: bigint;
  /** A count (`count`, `total`, `too-small`: pages), or the errno of `not-handed-over`. */
  value: bigint;
  /** The earlier block (`cycle`) or record (`duplicate-key`) it collides with. */
  other: number;
}

/** What to read. */
export interface RecordsSpec {
  /** Physical address of the first block (or of the array); 0n: empty. */
  head: bigint;
  /** How many records the owner says there are (checked). */
  expected: number;
  /** Most blocks accepted. */
  maxBlocks: number;
  /** Bytes per block, a multiple of the page size (ignored for an array). */
  blockSize: number;
  /** Bytes per record. */
  recordSize: number;
  /** The tag field: offset and size in the record. */
  tag: { offset: number; size: number };
  /** Offset of the u64 key in the record. */
  keyOffset: number;
  /** Claim the blocks once everything is valid. */
  claim: boolean;
  /** One run of `expected` records at `head`, no block header (never claimed). */
  array: boolean;
}

/** Keys that form an arithmetic sequence: record i's key is `base + i * step`. */
export interface KeySequence {
  /** The first key. */
  base: bigint;
  /** The difference between two keys (> 0; no key past 2^64). */
  step: bigint;
}

/** The table of known tags: `cap` fields of the tag size, the first `count` in use. */
export interface TagTable {
  /** The fields, NUL-padded. */
  bytes: Uint8Array;
  /** Tags in use; an open table's grows as new tags are met. */
  count: number;
  /** Whether a new well-formed tag is added (open) or refused (closed). */
  open: boolean;
}

/** A successful read. */
export interface RecordsRead {
  /** The blocks as `pa, count` pairs (`nblocks` of them; an array is one). */
  blocks: BigUint64Array;
  /** Number of blocks. */
  nblocks: number;
  /** The tag id every record has, or `null` when they differ (see `ids`). */
  uniformTag: number | null;
  /** The tag id of each record (its index in the tag table); empty when they have one. */
  ids: Uint16Array;
  /** The keys, when they form a sequence (then the index was not used). */
  sequence: KeySequence | null;
  /** Otherwise the filled key index (see token_index.ts), `index.length / 4` slots. */
  index: Int32Array;
  /** 0 when the index kept the dense hash, else the seed of the mixing hash. */
  seed: number;
}

/** Slots of a key index for `n` keys: a power of two, at least 16 and twice `n`. */
export function indexSlotsFor(n: number): number {
  let cap = 16;
  while (cap < n * 2) cap *= 2;
  return cap;
}

const checked = new WeakSet<Native>();
const params = new DataView(new ArrayBuffer(PARAMS_BYTES));
const paramBytes = new Uint8Array(params.buffer);

function checkParamsSize(native: Native): void {
  if (checked.has(native)) return;
  const n = Number(native.kho_records_params_size());
  if (n !== PARAMS_BYTES) {
    throw new KhoError(
      "EPROTO",
      `kho_read_records takes ${n} bytes of parameters, this module writes ${PARAMS_BYTES}`,
    );
  }
  checked.add(native);
}

function writeParams(spec: RecordsSpec, tags: TagTable, out: RecordsRead, seed: number): void {
  const flags = FLAGS.expect | FLAGS.sequence | (spec.claim ? FLAGS.claim : 0) |
    (spec.array ? FLAGS.array : 0) | (tags.open ? FLAGS.openTags : 0);
  paramBytes.fill(0);
  params.setBigUint64(P.head, spec.head, true);
  params.setBigUint64(P.expected, BigInt(spec.expected), true);
  params.setBigUint64(P.maxBlocks, BigInt(spec.maxBlocks), true);
  params.setBigUint64(P.blockCap, BigInt(out.blocks.length / 2), true);
  params.setBigUint64(P.indexSlots, BigInt(out.index.length / 4), true);
  params.setBigUint64(P.idsLen, BigInt(out.ids.length), true);
  params.setUint32(P.blockSize, spec.blockSize, true);
  params.setUint32(P.recordSize, spec.recordSize, true);
  params.setUint32(P.tagOffset, spec.tag.offset, true);
  params.setUint32(P.tagSize, spec.tag.size, true);
  params.setUint32(P.keyOffset, spec.keyOffset, true);
  params.setUint32(P.flags, flags, true);
  params.setUint32(P.tagCap, tags.bytes.length / spec.tag.size, true);
  params.setUint32(P.ntags, tags.count, true);
  params.setUint32(P.seed, seed, true);
}

function u64(at: number): bigint {
  return params.getBigUint64(at, true);
}

function failure(rc: number): RecordsFailure {
  return {
    reason: REASONS[params.getUint32(P.reason, true)] as RecordsReason,
    code: rc === -ERRORS.ENOSPC.errno ? "ENOSPC" : "EBADMSG",
    block: Number(u64(P.failBlock)),
    record: Number(u64(P.failRecord)),
    pa: u64(P.failPa),
    value: u64(P.failValue),
    other: Number(u64(P.failOther)),
  };
}

/**
 * Reads the records `spec` names (see the module comment). `ids` and
 * `index` (zero-filled), when given non-empty, are the caller's, sized for
 * `expected` records. Empty, they are made only when needed: ids when the
 * records' tags differ, an index of `indexSlotsFor(expected)` slots when
 * the keys are no sequence. The blocks buffer is sized for a chain whose
 * blocks are full. A read that needs more room is run again (nothing
 * having changed). On failure `fail` turns the {@link RecordsFailure} into
 * the error thrown; `tags.count` then counts the tags added before it.
 */
export function readRecords(
  arena: NativeCaller,
  spec: RecordsSpec,
  tags: TagTable,
  out: { ids: Uint16Array; index: Int32Array },
  fail: (f: RecordsFailure) => Error,
): RecordsRead {
  const perBlock = spec.array ? spec.expected : Math.floor((spec.blockSize - 16) / spec.recordSize);
  const blocks = Math.max(1, Math.ceil(spec.expected / Math.max(1, perBlock)));
  const read: RecordsRead = {
    blocks: new BigUint64Array(2 * blocks),
    nblocks: 0,
    seed: 0,
    sequence: null,
    uniformTag: null,
    ...out,
  };
  const seed = (crypto.getRandomValues(new Uint32Array(1))[0] | 1) >>> 0;
  // At most: once as sized, once with room for the blocks, once with ids and an index.
  for (let attempt = 0; attempt < 3; attempt++) {
    const { native, handle } = arena[nativeCall]();
    checkParamsSize(native);
    writeParams(spec, tags, read, seed);
    const rc = native.kho_read_records(
      handle,
      paramBytes,
      tags.bytes,
      read.ids,
      read.index,
      read.blocks,
    );
    tags.count = params.getUint32(P.ntags, true);
    if (rc === 0) {
      read.nblocks = Number(u64(P.nblocks));
      read.seed = params.getUint32(P.seed, true);
      const step = u64(P.keyStep);
      read.sequence = step === 0n ? null : { base: u64(P.keyBase), step };
      const uniform = u64(P.uniformTag);
      read.uniformTag = uniform > 0xffffn ? null : Number(uniform);
      return read;
    }
    if (rc === 1) {
      const nblocks = Number(u64(P.nblocks));
      // A chain of blocks that are not full: room for all of them, then again.
      if (2 * nblocks > read.blocks.length) read.blocks = new BigUint64Array(2 * nblocks);
      else {
        // Tags that differ, or keys that are no sequence: ids and an index, then again.
        if (read.ids.length === 0) read.ids = new Uint16Array(spec.expected);
        if (read.index.length === 0) read.index = new Int32Array(indexSlotsFor(spec.expected) * 4);
      }
      continue;
    }
    if (params.getUint32(P.reason, true) !== 0) throw fail(failure(rc));
    checkNative(native, rc, () => `read records at 0x${spec.head.toString(16)}`);
  }
  throw new KhoError(
    "EIO",
    `read records at 0x${spec.head.toString(16)}: the chain changed between two reads`,
  );
}

/**
 * The error of a failure of the chain itself (not of a record), worded as
 * the block chain reader words it: `what` names the chain. `null` for the
 * record failures (tags, keys), which the caller words.
 */
export function chainFailure(
  what: string,
  f: RecordsFailure,
  spec: RecordsSpec,
): CorruptImageError | null {
  const perBlock = Math.floor((spec.blockSize - 16) / spec.recordSize);
  const at = (msg: string) => new CorruptImageError(`${what}: ${msg}`, f.pa, f.code);
  switch (f.reason) {
    case "cap":
      return at(`more than ${spec.maxBlocks} blocks (the cap)`);
    case "unaligned":
      return at(`block ${f.block} is not page-aligned`);
    case "outside":
      return spec.array
        ? at(`${spec.expected} entries of ${spec.recordSize} bytes do not fit inside the arena`)
        : at(`block ${f.block} is outside the arena`);
    case "cycle":
      return at(`block ${f.block} links back to block ${f.other}`);
    case "count":
      return at(`block ${f.block} has count ${f.value}, want 1..${perBlock}`);
    case "total":
      return at(`${f.value} entries in ${f.other} blocks, the owner says ${spec.expected}`);
    case "not-handed-over":
      return at(`block was not handed over (${codeOfNative(-Number(f.value))})`);
    case "too-small":
      return at(`handed-over block has ${f.value} pages, ${spec.blockSize} bytes do not fit`);
    default:
      return null;
  }
}
