/**
 * An O(1) index from 64-bit tokens to small integers, in typed arrays:
 * open addressing with linear probing, keys as two u32 halves, so that a
 * token read from memory is indexed without allocating a BigInt. Used for
 * token lookup and duplicate detection on both sides of a handover.
 *
 * The layout, shared with the native reader of handed-over records
 * (native/key_index.zig fills a table that {@link TokenIndex.adopt} takes
 * over without rebuilding it):
 *
 * ```
 * table   Int32Array of slots * 4 words, slots a power of two (>= 16),
 *         at most half of them used
 * slot i  words 4i..4i+3: { lo, hi, value + 1, 0 }   (value + 1 = 0: empty)
 * home    seed 0:  (lo ^ imul(hi, 0x9e3779b1)) & (slots - 1)
 *         seed s:  h = imul(lo ^ imul(hi ^ s, 0x9e3779b1), 0x85ebca6b);
 *                  h ^= h >>> 15; h = imul(h, 0xc2b2ae35); h ^= h >>> 13;
 *                  h & (slots - 1)
 * probe   from home, slot after slot (wrapping), to the key or an empty slot
 * reseed  an insert whose probe is longer than 48 slots with seed 0
 *         rebuilds the table once with a random odd seed, then inserts
 * ```
 *
 * @module
 */

const EMPTY = -1;
// A slot stores value + 1, so that a zero-filled table (as allocated) is empty.
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

/** Probe length past which the index switches to a seeded, mixing hash. */
const MAX_PROBE = 48;

/**
 * Token → value (a non-negative int32), with O(1) get, set and delete.
 * Each slot is 4 words (lo, hi, value, unused) so that a probe touches one
 * cache line. The hash starts as the low word (high word folded in), so
 * that the common dense tokens (0, 1, 2, ...) land in consecutive slots
 * and a bulk insert streams through memory; if some probe run grows past
 * {@link MAX_PROBE} (keys that collide on purpose or by pattern) the table
 * is rebuilt once with a randomly seeded mixing hash, which keeps every
 * operation O(1) expected whatever the keys.
 */
export class TokenIndex {
  #t: Int32Array;
  #mask: number;
  #size = 0;
  #seed = 0; // 0: dense-friendly hash; otherwise the seed of the mixing hash
  #probes = 0; // length of the last probe

  /** An index sized for about `expected` tokens. */
  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap < expected * 2) cap *= 2;
    this.#t = TokenIndex.#table(cap);
    this.#mask = cap - 1;
  }

  static #table(cap: number): Int32Array {
    return new Int32Array(cap * 4);
  }

  /**
   * Takes over a table filled elsewhere (the native record reader) in the
   * layout the module comment describes: `size` tokens, hashed with
   * `seed` (0: the dense hash). `RangeError` when the table cannot be one.
   */
  static adopt(table: Int32Array, size: number, seed: number): TokenIndex {
    const slots = table.length / 4;
    if (
      !Number.isInteger(slots) || slots < MIN_CAPACITY || (slots & (slots - 1)) !== 0 ||
      !Number.isSafeInteger(size) || size < 0 || size * 2 > slots
    ) {
      throw new RangeError(`token index: ${table.length} words cannot hold ${size} tokens`);
    }
    const index = new TokenIndex();
    index.#t = table;
    index.#mask = slots - 1;
    index.#size = size;
    index.#seed = seed >>> 0;
    return index;
  }

  /** Number of tokens. */
  get size(): number {
    return this.#size;
  }

  #home(lo: number, hi: number): number {
    if (this.#seed === 0) return (lo ^ Math.imul(hi, 0x9e3779b1)) & this.#mask;
    let h = Math.imul(lo ^ Math.imul(hi ^ this.#seed, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
    return h & this.#mask;
  }

  /**
   * Word index of the slot holding the token, or of the empty slot where it
   * would go; the probe length is left in `#probes`.
   */
  #probe(lo: number, hi: number): number {
    const t = this.#t;
    const mask = this.#mask;
    let n = 0;
    for (let i = this.#home(lo, hi); n <= mask; i = (i + 1) & mask, n++) {
      const p = i << 2;
      if (t[p + 2] === 0 || (t[p] === lo && t[p + 1] === hi)) {
        this.#probes = n;
        return p;
      }
    }
    throw new RangeError("token index full (load factor invariant broken)");
  }

  /** The value of a token, or -1. */
  get(lo: number, hi: number): number {
    return this.#t[this.#probe(lo | 0, hi | 0) + 2] - 1;
  }

  /** Inserts a token; returns -1, or the existing value (then nothing changes). */
  set(lo: number, hi: number, value: number): number {
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    lo |= 0;
    hi |= 0;
    const p = this.#probe(lo, hi);
    const t = this.#t;
    if (t[p + 2] !== 0) return t[p + 2] - 1;
    if (this.#probes > MAX_PROBE && this.#seed === 0) {
      // A long run: rebuild with the mixing hash, then insert there.
      this.#rehash(this.#mask + 1, (crypto.getRandomValues(new Int32Array(1))[0] | 1) >>> 0);
      return this.set(lo, hi, value);
    }
    t[p] = lo;
    t[p + 1] = hi;
    t[p + 2] = value + 1;
    this.#size++;
    return EMPTY;
  }

  /** Whether the table switched to the seeded mixing hash. */
  get mixed(): boolean {
    return this.#seed !== 0;
  }

  /** Replaces the value of a present token. */
  update(lo: number, hi: number, value: number): void {
    const p = this.#probe(lo | 0, hi | 0);
    if (this.#t[p + 2] === 0) throw new RangeError("token not in index");
    this.#t[p + 2] = value + 1;
  }

  /** Removes a token (backward-shift deletion); returns its value or -1. */
  delete(lo: number, hi: number): number {
    const t = this.#t;
    const mask = this.#mask;
    const found = this.#probe(lo | 0, hi | 0);
    if (t[found + 2] === 0) return EMPTY;
    let i = found >> 2;
    const value = t[(i << 2) + 2] - 1;
    // Shift later members of the probe run back over the hole.
    for (let j = (i + 1) & mask, n = 0; n <= mask; j = (j + 1) & mask, n++) {
      const q = j << 2;
      if (t[q + 2] === 0) break;
      const home = this.#home(t[q], t[q + 1]);
      // Move j to i if its home is not in (i, j] (cyclically).
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        const p = i << 2;
        t[p] = t[q];
        t[p + 1] = t[q + 1];
        t[p + 2] = t[q + 2];
        i = j;
      }
    }
    t[(i << 2) + 2] = 0;
    this.#size--;
    return value;
  }

  #grow(): void {
    this.#rehash((this.#mask + 1) * 2, this.#seed);
  }

  #rehash(cap: number, seed: number): void {
    const old = this.#t;
    this.#t = TokenIndex.#table(cap);
    this.#mask = cap - 1;
    this.#size = 0;
    this.#seed = seed;
    for (let p = 0; p < old.length; p += 4) {
      if (old[p + 2] !== 0) this.set(old[p], old[p + 1], old[p + 2] - 1);
    }
  }

  /** Calls `fn` for every (lo, hi, value) as unsigned halves, in no particular order. */
  forEach(fn: (lo: number, hi: number, value: number) => void): void {
    const t = this.#t;
    for (let p = 0; p < t.length; p += 4) {
      if (t[p + 2] !== 0) fn(t[p] >>> 0, t[p + 1] >>> 0, t[p + 2] - 1);
    }
  }
}

/**
 * Tokens that form an arithmetic sequence, `base + i * step` for i in
 * 0..count-1 (step > 0, no token past 2^64): the index of a token is
 * arithmetic, no table is needed. The native record reader finds them so.
 */
export class TokenSequence {
  readonly #base: bigint;
  readonly #step: bigint;
  readonly #count: number;
  /** Small enough for doubles: base and the last token below 2^53, split as lo/hi. */
  readonly #small: boolean;

  /** The sequence of `count` tokens from `base` by `step`. */
  constructor(base: bigint, step: bigint, count: number) {
    if (step <= 0n || base < 0n || !Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`token sequence from ${base} by ${step}: not a sequence`);
    }
    this.#base = base;
    this.#step = step;
    this.#count = count;
    this.#small = base + BigInt(count) * step < 2n ** 53n;
  }

  /** The index of a token, or -1. */
  get(lo: number, hi: number): number {
    if (this.#small) {
      const d = (hi >>> 0) * 2 ** 32 + (lo >>> 0) - Number(this.#base);
      const step = Number(this.#step);
      const i = d / step;
      return d >= 0 && Number.isInteger(i) && i < this.#count ? i : -1;
    }
    const d = tokenOf(lo >>> 0, hi >>> 0) - this.#base;
    if (d < 0n || d % this.#step !== 0n) return -1;
    const i = d / this.#step;
    return i < BigInt(this.#count) ? Number(i) : -1;
  }
}
