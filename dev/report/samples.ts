/**
 * Samples of named rows at sizes (a path at 1k, 10k ... files), and the
 * rule for timeouts and failures: a row that timed out or failed at a size
 * is not run again at that size or any larger one (it would only take
 * longer, or fail again), and its cells say so instead of a number.
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
  readonly #failed = new Map<string, number>();

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

  /** Records that `row` failed at `size` (the reason goes to the report's failures). */
  fail(row: string, size: number): void {
    this.#failed.set(row, Math.min(size, this.#failed.get(row) ?? Infinity));
  }

  /** Whether `row` timed out or failed at `size` or a smaller size (then it is not run at `size`). */
  skips(row: string, size: number): boolean {
    return this.#stoppedAt(row) <= size;
  }

  /** The smallest size at which `row` timed out or failed (Infinity when none). */
  #stoppedAt(row: string): number {
    return Math.min(this.#timedOut.get(row) ?? Infinity, this.#failed.get(row) ?? Infinity);
  }

  /** The size at which `row` stopped and why, or undefined when it never did. */
  stopped(row: string): { size: number; why: "timed out" | "failed" } | undefined {
    const size = this.#stoppedAt(row);
    if (size === Infinity) return undefined;
    return { size, why: size === this.#failed.get(row) ? "failed" : "timed out" };
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

  /** What a cell shows when `row` has no sample at `size`: timed out, failed, or not run. */
  missing(row: string, size: number, timeoutS: number): string {
    const stop = this.stopped(row);
    if (stop === undefined || stop.size > size) return "not run";
    return stop.why === "failed"
      ? "failed (see Failures)"
      : `> ${fmtNs(timeoutS * 1e9)} (timed out)`;
  }
}
