/**
 * Deterministic byte patterns to fill preserved memory and verify it in a
 * successor, byte for byte.
 *
 * @module
 */

/** Deterministic pattern byte for region `r` at offset `i`. */
export function patternByte(r: number, i: number): number {
  return (r * 131 + i * 7 + (i >>> 12)) & 0xff;
}
