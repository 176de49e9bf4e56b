/**
 * The compatible field of `luo_file_ser` and `luo_flb_ser`: 48 bytes, a
 * well-formed UTF-8 string of 1..47 bytes, NUL-padded. Encoded here once,
 * for the entry writers and for the table of strings a reader matches
 * against.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import { checkCString } from "./c_string.ts";

/** Bytes of a compatible field. */
export const COMPATIBLE_LEN = 48;

/** Longest compatible string in bytes (its NUL must fit in the 48-byte field). */
export const MAX_COMPAT_BYTES = COMPATIBLE_LEN - 1;

/**
 * The 48-byte compatible field of `compatible`: a well-formed string of
 * 1..47 UTF-8 bytes without NUL (`EINVAL` otherwise).
 */
export function compatibleField(compatible: unknown): Uint8Array {
  const r = checkCString(compatible, COMPATIBLE_LEN);
  if ("why" in r) {
    throw new LuoError("EINVAL", `handler compatible ${JSON.stringify(compatible)} ${r.why}`);
  }
  const field = new Uint8Array(COMPATIBLE_LEN);
  field.set(r.bytes);
  return field;
}
