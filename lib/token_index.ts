/**
 * An O(1) index from 64-bit tokens to small integers, in typed arrays:
 * open addressing with linear probing, keys as two u32 halves, so that a
 * token read from memory is indexed without allocating a BigInt. Used for
 * token lookup and duplicate detection on both sides of a handover.
 *
 * @module
 */

const EMPTY = -1;
/** Smallest table (slots). */
const MIN_CAPACITY = 16;

/** Splits a u64 token into its low and high 32-bit halves. */
export function tokenHalves(t: bigint): [number, number] {
  return [Number(t & 0xffffffffn), Number(t >> 32n)];
}

/** Joins two 32-bit halves into a token. */
export function tokenOf(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Token → value (a non-negative int32), with O(1) get, set and delete. */
export class TokenIndex {
  #keys: Uint32Array;
  #vals: Int32Array;
  #mask: number;
  #size = 0;

  /** An index sized for about `expected` tokens. */
  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap < expected * 2) cap *= 2;
    this.#keys = new Uint32Array(cap * 2);
    this.#vals = new Int32Array(cap).fill(EMPTY);
    this.#mask = cap - 1;
  }

  /** Number of tokens. */
  get size(): number {
    return this.#size;
  }

  #slot(lo: number, hi: number): number {
    let h = Math.imul(lo ^ Math.imul(hi ^ 0x27d4eb2f, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.#mask;
  }

  /** The value of a token, or -1. */
  get(lo: number, hi: number): number {
    const keys = this.#keys;
    const vals = this.#vals;
    for (let i = this.#slot(lo, hi), n = 0; n <= this.#mask; i = (i + 1) & this.#mask, n++) {
      const v = vals[i];
      if (v === EMPTY) return EMPTY;
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) return v;
    }
    return EMPTY;
  }

  /** Inserts a token; returns -1, or the existing value (then nothing changes). */
  set(lo: number, hi: number, value: number): number {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    const keys = this.#keys;
    const vals = this.#vals;
    for (let i = this.#slot(lo, hi), n = 0; n <= this.#mask; i = (i + 1) & this.#mask, n++) {
      const v = vals[i];
      if (v === EMPTY) {
        keys[2 * i] = lo;
        keys[2 * i + 1] = hi;
        vals[i] = value;
        this.#size++;
        return EMPTY;
      }
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) return v;
    }
    throw new RangeError("token index full (load factor invariant broken)");
  }

  /** Replaces the value of a present token. */
  update(lo: number, hi: number, value: number): void {
    const keys = this.#keys;
    for (let i = this.#slot(lo, hi), n = 0; n <= this.#mask; i = (i + 1) & this.#mask, n++) {
      if (this.#vals[i] === EMPTY) break;
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) {
        this.#vals[i] = value;
        return;
      }
    }
    throw new RangeError("token not in index");
  }

  /** Removes a token (backward-shift deletion); returns its value or -1. */
  delete(lo: number, hi: number): number {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = this.#mask;
    let i = this.#slot(lo, hi);
    for (let n = 0;; i = (i + 1) & mask, n++) {
      if (vals[i] === EMPTY || n > mask) return EMPTY;
      if (keys[2 * i] === lo && keys[2 * i + 1] === hi) break;
    }
    const value = vals[i];
    // Shift later members of the probe run back over the hole.
    for (let j = (i + 1) & mask, n = 0; n <= mask; j = (j + 1) & mask, n++) {
      if (vals[j] === EMPTY) break;
      const home = this.#slot(keys[2 * j], keys[2 * j + 1]);
      // Move j to i if its home is not in (i, j] (cyclically).
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        keys[2 * i] = keys[2 * j];
        keys[2 * i + 1] = keys[2 * j + 1];
        vals[i] = vals[j];
        i = j;
      }
    }
    vals[i] = EMPTY;
    this.#size--;
    return value;
  }

  #grow(): void {
    const oldKeys = this.#keys;
    const oldVals = this.#vals;
    const cap = (this.#mask + 1) * 2;
    this.#keys = new Uint32Array(cap * 2);
    this.#vals = new Int32Array(cap).fill(EMPTY);
    this.#mask = cap - 1;
    this.#size = 0;
    for (let i = 0; i < oldVals.length; i++) {
      if (oldVals[i] !== EMPTY) this.set(oldKeys[2 * i], oldKeys[2 * i + 1], oldVals[i]);
    }
  }

  /** Calls `fn` for every (lo, hi, value), in no particular order. */
  forEach(fn: (lo: number, hi: number, value: number) => void): void {
    for (let i = 0; i < this.#vals.length; i++) {
      if (this.#vals[i] !== EMPTY) fn(this.#keys[2 * i], this.#keys[2 * i + 1], this.#vals[i]);
    }
  }
}
