/**
 * Re-entrancy guard: while a handler op runs, calls into the live update
 * that change its state are refused with `EBUSY` instead of corrupting it
 * (a session created inside `freeze` would be lost; one closed inside it
 * would break the handover).
 *
 * @module
 */

import { LuoError } from "../errors.ts";

/** Tracks whether a handler op is running. */
export class CallbackGuard {
  #who: string | null = null;
  #op = "";

  /**
   * Runs `fn` as the op `op` of `who` (e.g. `handler "memfd-v2"`, `freeze`);
   * the two are joined only for an error message.
   */
  run<R>(who: string, op: string, fn: () => R): R {
    const outerWho = this.#who;
    const outerOp = this.#op;
    this.#who = who;
    this.#op = op;
    try {
      return fn();
    } finally {
      this.#who = outerWho;
      this.#op = outerOp;
    }
  }

  /**
   * Same as {@link run} for `fn(a, b)`: no closure is made per call (the
   * hot paths call a handler op once per file).
   */
  call<A, B, R>(who: string, op: string, fn: (a: A, b: B) => R, a: A, b: B): R {
    const outerWho = this.#who;
    const outerOp = this.#op;
    this.#who = who;
    this.#op = op;
    try {
      return fn(a, b);
    } finally {
      this.#who = outerWho;
      this.#op = outerOp;
    }
  }

  /** Throws `EBUSY` when called from inside a handler op; `entry` names the call. */
  check(entry: string): void {
    if (this.#who !== null) {
      throw new LuoError(
        "EBUSY",
        `${entry} was called from inside ${this.#who} ${this.#op}: a handler op may not call back into the live update`,
      );
    }
  }

  /** Whether a handler op is running. */
  get active(): boolean {
    return this.#who !== null;
  }
}
