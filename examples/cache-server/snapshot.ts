/**
 * The usual restart, for comparison, done as well as a user would: the
 * predecessor streams its entries to a snapshot file in 1 MiB chunks; the
 * successor reads it back in 1 MiB chunks into a map whose index and log
 * are sized up front for what the snapshot's header says it holds.
 *
 * ```
 * header: u32 magic "KVSN"; u32 version 1; f64 keys; f64 bytes (of keys and values)
 * record: u32 key_len | is_string << 31; u32 value_len; key; value
 * ```
 *
 * @module
 */

import { LuoError, PreservedMap } from "../../mod.ts";
import type { Arena } from "../../kho.ts";

const MAGIC = 0x4e53564b; // "KVSN"
const HEADER = 24;
const RECORD = 8;
const STRING_KEY = 0x8000_0000;
const CHUNK = 1 << 20;

const enc = new TextEncoder();
const dec = new TextDecoder();

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  // Bounded: every round writes at least one byte or throws.
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

/** Writes every entry of `map` to `path`; returns the bytes written. */
export function writeSnapshot(map: PreservedMap, path: string): number {
  using file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(CHUNK);
  const dv = new DataView(buf.buffer);
  const s = map.stats();
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, 1, true);
  dv.setFloat64(8, s.keys, true);
  dv.setFloat64(16, s.liveBytes, true);
  let at = HEADER;
  let total = 0;
  const flush = () => {
    writeAll(file, buf.subarray(0, at));
    total += at;
    at = 0;
  };
  for (const [k, v] of map) {
    const key = typeof k === "string" ? enc.encode(k) : k;
    if (at + RECORD + key.length + v.length > CHUNK) flush();
    dv.setUint32(at, key.length | (typeof k === "string" ? STRING_KEY : 0), true);
    dv.setUint32(at + 4, v.length, true);
    buf.set(key, at + RECORD);
    at += RECORD + key.length;
    if (at + v.length <= CHUNK) {
      buf.set(v, at);
      at += v.length;
    } else {
      flush(); // a value larger than a chunk goes straight to the file
      writeAll(file, v);
      total += v.length;
    }
  }
  flush();
  return total;
}

/** A file read in chunks of 1 MiB (more for a record that does not fit one). */
class ChunkReader {
  buf = new Uint8Array(CHUNK);
  view = new DataView(this.buf.buffer);
  /** Where the unread bytes are in `buf`. */
  at = 0;
  end = 0;
  #file: Deno.FsFile;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Makes `n` bytes available at `at`; false at the end of the file before any of them. */
  need(n: number): boolean {
    if (this.end - this.at >= n) return true;
    this.buf.copyWithin(0, this.at, this.end);
    this.end -= this.at;
    this.at = 0;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(n);
      bigger.set(this.buf.subarray(0, this.end));
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    // Bounded: every round reads at least one byte or ends.
    while (this.end < n) {
      const r = this.#file.readSync(this.buf.subarray(this.end));
      if (r === null) {
        if (this.end === 0) return false;
        throw new LuoError("EBADMSG", `snapshot: cut short (${this.end} of ${n} bytes)`);
      }
      this.end += r;
    }
    return true;
  }
}

/** Reads the snapshot at `path` into a new map in `arena`, sized for it first. */
export function readSnapshot(arena: Arena, path: string): PreservedMap {
  using file = Deno.openSync(path);
  const r = new ChunkReader(file);
  if (!r.need(HEADER)) throw new LuoError("EBADMSG", `snapshot ${path}: empty file`);
  if (r.view.getUint32(0, true) !== MAGIC || r.view.getUint32(4, true) !== 1) {
    throw new LuoError("EPROTO", `snapshot ${path}: not a version 1 snapshot`);
  }
  const keys = r.view.getFloat64(8, true);
  const map = PreservedMap.create(arena, { keys, bytes: r.view.getFloat64(16, true) });
  r.at = HEADER;
  for (let n = 0; n < keys; n++) {
    if (!r.need(RECORD)) throw new LuoError("EBADMSG", `snapshot: ${n} of ${keys} keys`);
    const info = r.view.getUint32(r.at, true);
    const keyLen = info & ~STRING_KEY;
    const valueLen = r.view.getUint32(r.at + 4, true);
    r.need(RECORD + keyLen + valueLen);
    const k = r.at + RECORD;
    const key = r.buf.subarray(k, k + keyLen);
    map.set(
      info & STRING_KEY ? dec.decode(key) : key,
      r.buf.subarray(k + keyLen, k + keyLen + valueLen),
    );
    r.at = k + keyLen + valueLen;
  }
  return map;
}
