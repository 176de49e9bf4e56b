/**
 * Validation of numeric arguments: the one check every public size, count
 * and offset goes through.
 *
 * @module
 */

import { KhoError, typeOf } from "../errors.ts";

/**
 * Throws `EINVAL` unless `v` is an integer in [min, max]; the message names
 * the argument and says which way it is wrong (type, fraction, range).
 */
export function checkInteger(
  what: string,
  v: unknown,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max) return v;
  throw new KhoError("EINVAL", `${what} ${shown(v)} ${wrong(v, min, max)}`);
}

function shown(v: unknown): string {
  return typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : String(v);
}

function wrong(v: unknown, min: number, max: number): string {
  if (typeof v !== "number") return `must be an integer in ${min}..${max}, got ${typeOf(v)}`;
  if (!Number.isInteger(v)) return `is not an integer (${min}..${max})`;
  if (!Number.isSafeInteger(v)) return `is beyond 2^53, outside ${min}..${max}`;
  return `is outside ${min}..${max}`;
}
