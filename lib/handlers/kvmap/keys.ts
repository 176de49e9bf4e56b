/**
 * Keys of a preserved map: strings or bytes, one key space (a string is
 * its UTF-8 bytes, so `"abc"` and `Uint8Array [97, 98, 99]` are the same
 * key). {@link KeyCodec} prepares one key at a time (its hash, its length
 * in bytes) without allocating: ASCII strings are hashed and compared
 * character by character, other strings are encoded once into a scratch
 * buffer.
 *
 * @module
 */

import { LuoError, typeOf } from "../../errors.ts";
import { KEY_FLAGS, MAX_KEY_BYTES } from "../../format/kvmap_log_ser.ts";
import { mix32 } from "../../format/kvmap_state_ser.ts";

/**
 * A key of a preserved map.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { type MapKey, PreservedMap } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * using map = PreservedMap.create(arena);
 * const key: MapKey = new Uint8Array([97, 98, 99]);
 * map.set(key, new Uint8Array([1]));
 * console.log(map.has("abc")); // true: a string is its UTF-8 bytes
 * ```
 */
export type MapKey = string | Uint8Array;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The hash of key bytes, as stored in records and slots (an int32). */
export function hashBytes(b: Uint8Array, at: number, n: number): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[at + i], FNV_PRIME);
  return mix32(h);
}

/** Whether `b`'s buffer was detached (transferred): its bytes are gone. */
export function isDetached(b: Uint8Array): boolean {
  return (b.buffer as ArrayBuffer).detached === true;
}

/** One key prepared for a lookup or a write. */
export class KeyCodec {
  /** Hash of the key's bytes. */
  hash = 0;
  /** Length in bytes. */
  length = 0;
  /** Key flags of the record ({@link KEY_FLAGS}). */
  flags = 0;
  /** The key when it is an ASCII string (compared by character), else null. */
  private ascii: string | null = null;
  /** The key's bytes otherwise (the caller's array, or the scratch buffer). */
  private bytes: Uint8Array = new Uint8Array(0);
  private scratch = new Uint8Array(256);

  /** Prepares `key`; `EINVAL` for another type, a key over 65535 bytes or an ill-formed string. */
  prepare(key: MapKey): void {
    if (typeof key === "string") {
      const n = key.length;
      let h = FNV_OFFSET;
      let i = 0;
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80) break;
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      this.flags = KEY_FLAGS.string;
      if (i === n && n <= MAX_KEY_BYTES) {
        this.ascii = key;
        this.length = n;
        this.hash = mix32(h);
        return;
      }
      this.encode(key);
    } else if (key instanceof Uint8Array) {
      if (isDetached(key)) throw new LuoError("EINVAL", "map key: its ArrayBuffer is detached");
      this.flags = 0;
      this.setBytes(key);
    } else {
      throw new LuoError("EINVAL", `map key: a string or a Uint8Array, got ${typeOf(key)}`);
    }
  }

  private encode(key: string): void {
    if (!key.isWellFormed()) {
      throw new LuoError("EINVAL", "map key: the string has a lone surrogate (not valid UTF-8)");
    }
    if (key.length * 3 > this.scratch.length) {
      this.scratch = new Uint8Array(Math.min(key.length * 3, MAX_KEY_BYTES * 3));
    }
    const { read, written } = enc.encodeInto(key, this.scratch);
    if (read !== key.length) this.tooLong(enc.encode(key).length);
    this.setBytes(this.scratch.subarray(0, written));
  }

  private setBytes(b: Uint8Array): void {
    if (b.length > MAX_KEY_BYTES) this.tooLong(b.length);
    this.ascii = null;
    this.bytes = b;
    this.length = b.length;
    this.hash = hashBytes(b, 0, b.length);
  }

  private tooLong(n: number): never {
    throw new LuoError("EINVAL", `map key of ${n} bytes: at most ${MAX_KEY_BYTES}`);
  }

  /** Whether `mem[at, at + to - from)` holds bytes `from` to `to` of the prepared key. */
  equals(mem: Uint8Array, at: number, from: number, to: number): boolean {
    const s = this.ascii;
    const d = at - from;
    if (s !== null) {
      for (let i = from; i < to; i++) if (mem[d + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    const b = this.bytes;
    for (let i = from; i < to; i++) if (mem[d + i] !== b[i]) return false;
    return true;
  }

  /** Writes the prepared key's bytes at `mem[at]`. */
  write(mem: Uint8Array, at: number): void {
    const s = this.ascii;
    if (s === null) {
      mem.set(this.bytes, at);
      return;
    }
    for (let i = 0; i < this.length; i++) mem[at + i] = s.charCodeAt(i);
  }
}

/**
 * The key stored at `mem[at, at + n)`: a string when it was set as one
 * (`undefined` when its bytes are not UTF-8: the caller reports the
 * damage), else a copy of the bytes.
 */
export function decodeKey(
  mem: Uint8Array,
  at: number,
  n: number,
  flags: number,
): MapKey | undefined {
  const b = mem.subarray(at, at + n);
  if ((flags & KEY_FLAGS.string) === 0) return b.slice();
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}
