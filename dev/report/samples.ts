/**
 * Samples of named rows at sizes (a path at 1k, 10k ... files), and the
 * rule for timeouts: a row that timed out at a size is not run again at
 * that size or any larger one (it would only take longer), and its cells
 * say so instead of a number.
 *
 * @module
 */

import { LuoError } from "../../mod.ts";
import { fmtNs } from "./format.ts";
import { minOf } from "./stats.ts";

/** The samples of a table of rows by sizes. */
export class SampleTable {
  readonly #samples = new Map<string, number[]>();
  readonly #timedOut = new Map<string, number>();

  #key(row: string, size: number): string {
    return `${row}@${size}`;
  }

  /** Records one sample (nanoseconds; `EINVAL` unless finite and non-negative). */
  add(row: string, size: number, ns: number): void {
    if (!Number.isFinite(ns) || ns < 0) {
      throw new LuoError("EINVAL", `sample of ${row} at ${size}: ${ns} is not a time`);
    }
    const key = this.#key(row, size);
    const list = this.#samples.get(key) ?? [];
    list.push(ns);
    this.#samples.set(key, list);
  }

  /** Records that `row` timed out at `size`. */
  timeOut(row: string, size: number): void {
    this.#timedOut.set(row, Math.min(size, this.#timedOut.get(row) ?? Infinity));
  }

  /** Whether `row` timed out at `size` or a smaller size (then it is not run at `size`). */
  skips(row: string, size: number): boolean {
    return (this.#timedOut.get(row) ?? Infinity) <= size;
  }

  /** The samples of `row` at `size` (empty when none). */
  samples(row: string, size: number): readonly number[] {
    return this.#samples.get(this.#key(row, size)) ?? [];
  }

  /** The minimum of `row` at `size`, or undefined when it has no sample. */
  min(row: string, size: number): number | undefined {
    const s = this.samples(row, size);
    return s.length ? minOf(s) : undefined;
  }

  /** What a cell shows when `row` has no sample at `size`: timed out, or not run. */
  missing(row: string, size: number, timeoutS: number): string {
    return this.skips(row, size) ? `> ${fmtNs(timeoutS * 1e9)} (timed out)` : "not run";
  }
}
