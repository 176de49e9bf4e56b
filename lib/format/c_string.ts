/**
 * Fixed-size C string fields (`char name[64]`, `char compatible[48]`):
 * UTF-8, NUL-terminated inside the field, NUL-padded.
 *
 * @module
 */

import { typeOf } from "../errors.ts";

const encoder = new TextEncoder();
// ignoreBOM: a name that starts with U+FEFF keeps it (the default decoder drops it).
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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

/** Byte length of the NUL-terminated string at `off`, or -1 when the field has no NUL. */
export function cStringLength(bytes: Uint8Array, off: number, len: number): number {
  return bytes.subarray(off, off + len).indexOf(0);
}

/** Writes `s` NUL-padded into a fixed-size field (the caller checked its length). */
export function writeCString(bytes: Uint8Array, off: number, len: number, s: Uint8Array): void {
  bytes.set(s, off);
  bytes.fill(0, off + s.length, off + len);
}

/**
 * Why `s` cannot be stored in a field of `len` bytes (NUL included), or
 * `null` when it can: not a string, empty, ill-formed UTF-16 (lone
 * surrogates, which all encode to the same U+FFFD bytes), too long, or
 * holding a NUL. Returns the encoded bytes when valid.
 */
export function checkCString(s: unknown, len: number): { bytes: Uint8Array } | { why: string } {
  if (typeof s !== "string") return { why: `must be a string, got ${typeOf(s)}` };
  if (s.length === 0) return { why: "is empty" };
  if (!s.isWellFormed()) return { why: "has a lone surrogate (not well-formed Unicode)" };
  const bytes = utf8(s);
  if (bytes.length > len - 1) return { why: `is ${bytes.length} bytes, at most ${len - 1}` };
  if (bytes.includes(0)) return { why: "contains a NUL" };
  return { bytes };
}
