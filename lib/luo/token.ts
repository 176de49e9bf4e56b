/**
 * File tokens: 64-bit numbers naming a file within its session.
 *
 * @module
 */

import { LuoError, typeOf } from "../errors.ts";

/**
 * A token as users give it: a `bigint` in 0..2^64-1, or a non-negative safe integer.
 *
 * @example
 * ```ts
 * import { LiveUpdate, type Token, Value } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const s = luo.createSession("svc");
 * const tokens: Token[] = [1n, 2, 2n ** 64n - 1n];
 * for (const t of tokens) s.preserve(new Value(String(t)), t);
 * console.log(s.tokens()); // [1n, 2n, 18446744073709551615n]
 * ```
 */
export type Token = bigint | number;

/** Largest u64 value. */
export const U64_MAX = (1n << 64n) - 1n;

/**
 * Validates and normalizes a token: a `bigint` in 0..2^64-1 or a
 * non-negative safe integer; anything else (booleans, strings, fractions,
 * NaN) is `EINVAL`.
 */
export function toToken(t: unknown): bigint {
  if (typeof t === "bigint") {
    if (t < 0n || t > U64_MAX) throw new LuoError("EINVAL", `token ${t}n is outside 0..2^64-1`);
    return t;
  }
  if (typeof t === "number") {
    if (!Number.isSafeInteger(t) || t < 0) {
      throw new LuoError("EINVAL", `token ${t} is not a non-negative safe integer (use a bigint)`);
    }
    return BigInt(t);
  }
  throw new LuoError("EINVAL", `token must be a bigint or a number, got ${typeOf(t)}`);
}
