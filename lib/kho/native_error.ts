/**
 * Native return codes as typed errors: the code through the one ERRORS
 * table, the detail the native library recorded for the call that failed.
 *
 * @module
 */

import { codeOfNative, ERRORS, KhoError } from "../errors.ts";
import type { Native } from "./symbols.ts";

/** Longest detail the native library records (native/errors.zig). */
const DETAIL_BYTES = 1024;

/**
 * Throws the typed error of a native return code: `what` names the call
 * (built only on failure), the detail the native library recorded for
 * this very call (what and where) is appended.
 */
export function checkNative(native: Native, rc: number, what: () => string): void {
  if (rc === 0) return;
  const code = codeOfNative(rc);
  const words = nativeDetail(native);
  const detail = words ? `: ${words}` : "";
  const meaning = code === "EIO" && -rc !== ERRORS.EIO.errno
    ? `native error ${rc}`
    : ERRORS[code].meaning;
  throw new KhoError(code, `${what()} failed (${meaning})${detail}`);
}

/** The detail the native library recorded for the call that just failed ("" when none). */
export function nativeDetail(native: Native): string {
  const buf = new Uint8Array(DETAIL_BYTES);
  const n = Number(native.kho_last_error(buf, BigInt(DETAIL_BYTES)));
  return new TextDecoder().decode(buf.subarray(0, n));
}
