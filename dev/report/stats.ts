/**
 * The few statistics the report uses: the minimum of repeated samples
 * (what the code can do; noise only ever adds), their spread, times per
 * file, and the drift of a time per file between two sizes.
 *
 * @module
 */

import { LuoError } from "../../mod.ts";

/** Drift per file above this is marked (the goal). */
export const DRIFT_LIMIT = 1.3;

/** The smallest of `samples` (`EINVAL` when there is none or one is not a finite, non-negative number). */
export function minOf(samples: readonly number[]): number {
  if (samples.length === 0) throw new LuoError("EINVAL", "minimum of no samples");
  for (const s of samples) {
    if (!Number.isFinite(s) || s < 0) {
      throw new LuoError("EINVAL", `sample ${s} is not a finite, non-negative time`);
    }
  }
  return Math.min(...samples);
}

/** How far the largest sample is above the smallest, as a fraction of the smallest (0.1 = 10%). */
export function spreadOf(samples: readonly number[]): number {
  const min = minOf(samples);
  return min === 0 ? 0 : Math.max(...samples) / min - 1;
}

/** `ns` per unit (file, session) of `units` (`EINVAL` unless a positive integer). */
export function perUnit(ns: number, units: number): number {
  if (!Number.isSafeInteger(units) || units < 1) {
    throw new LuoError("EINVAL", `per unit of ${units}: not a positive integer`);
  }
  return ns / units;
}

/**
 * The sizes a drift compares: the largest, and 10,000 when it is there and
 * smaller (the reference), else the smallest. `undefined` for fewer
 * than two sizes.
 */
export function driftSizes(sizes: readonly number[]): { from: number; to: number } | undefined {
  if (sizes.length < 2) return undefined;
  const sorted = [...sizes].sort((a, b) => a - b);
  const to = sorted[sorted.length - 1];
  const from = sorted.includes(10_000) && to > 10_000 ? 10_000 : sorted[0];
  return { from, to };
}
