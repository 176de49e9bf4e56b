/**
 * Validation of numeric arguments: the one check every public size, count
 * and offset goes through.
 *
 * @module
 */

import { KhoError } from "../errors.ts";

/** Throws `EINVAL` unless `v` is an integer in [min, max]; names the argument. */
export function checkInteger(
  what: string,
  v: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    const shown = typeof v === "bigint"
      ? `${v}n`
      : typeof v === "string"
      ? JSON.stringify(v)
      : String(v);
    throw new KhoError("EINVAL", `${what} ${shown} is not an integer in ${min}..${max}`);
  }
  return v;
}
