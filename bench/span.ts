/**
 * The one timed span of a benchmark sample, and a {@link Stopwatch} that
 * measures it with `performance.now()` for the children that time one
 * sample per process (under `Deno.bench`, the `BenchContext` is the span).
 *
 * @module
 */

import { LuoError } from "../mod.ts";

/** The one timed span of a sample: `Deno.BenchContext` has this shape. */
export interface Span {
  /** Starts the timed part. */
  start(): void;
  /** Ends it. */
  end(): void;
}

/** A span that measures nothing (for untimed runs of a path). */
export const NO_SPAN: Span = { start() {}, end() {} };

/** Times one span; `ns` is its length once ended. */
export class Stopwatch implements Span {
  #t0 = -1;
  #ns = -1;

  /** Starts the span (once). */
  start(): void {
    if (this.#t0 >= 0) throw new LuoError("EINVAL", "stopwatch: started twice");
    this.#t0 = performance.now();
  }

  /** Ends the span (once, after {@link start}). */
  end(): void {
    const t1 = performance.now();
    if (this.#t0 < 0 || this.#ns >= 0) {
      throw new LuoError("EINVAL", "stopwatch: ended without a start, or twice");
    }
    this.#ns = (t1 - this.#t0) * 1e6;
  }

  /** Nanoseconds between start and end (`EINVAL` before the span ended). */
  get ns(): number {
    if (this.#ns < 0) throw new LuoError("EINVAL", "stopwatch: the span never ended");
    return this.#ns;
  }
}

/** Times `fn` in nanoseconds. */
export function timeNs(fn: () => void): number {
  const w = new Stopwatch();
  w.start();
  fn();
  w.end();
  return w.ns;
}
