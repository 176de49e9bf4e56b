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
  #op: string | null = null;

  /** Runs `fn` as the handler op `what` (e.g. `handler "memfd-v1" freeze`). */
  run<R>(what: string, fn: () => R): R {
    const outer = this.#op;
    this.#op = what;
    try {
      return fn();
    } finally {
      this.#op = outer;
    }
  }

  /** Throws `EBUSY` when called from inside a handler op; `entry` names the call. */
  check(entry: string): void {
    if (this.#op !== null) {
      throw new LuoError(
        "EBUSY",
        `${entry} was called from inside ${this.#op}: a handler op may not call back into the live update`,
      );
    }
  }

  /** Whether a handler op is running. */
  get active(): boolean {
    return this.#op !== null;
  }
}
