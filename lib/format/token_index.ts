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
 * slot i  words 4i..4i+3: { lo, hi, value + 1, 0 }   (value + 1 = 0: empty,
 *         -1: deleted; the native reader writes no deleted slot)
 * home    seed 0:  (lo ^ imul(hi, 0x9e3779b1)) & (slots - 1)
 *         seed s:  h = imul(lo ^ imul(hi ^ s, 0x9e3779b1), 0x85ebca6b);
 *                  h ^= h >>> 15; h = imul(h, 0xc2b2ae35); h ^= h >>> 13;
 *                  h & (slots - 1)
 * probe   from home, slot after slot (wrapping, over deleted slots), to the
 *         key or an empty slot
 * reseed  an insert whose probe is longer than 48 slots with seed 0
 *         rebuilds the table once with a random odd seed, then inserts
 * ```
 *
 * @module
 */

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

/** The value word of a slot whose token was deleted (a tombstone); live slots hold value + 1 >= 1. */
const TOMBSTONE = -1;

/**
 * Token → value (a non-negative int32), with O(1) get, set and delete.
 * Each slot is 4 words (lo, hi, value + 1, unused) so that a probe touches
 * one cache line; value word 0 is an empty slot, -1 a deleted one (a
 * tombstone: a delete is O(1) whatever the order of the deletes; the table
 * is rebuilt when tombstones pass a quarter of it). The hash starts as the
 * low word (high word folded in), so that the common dense tokens (0, 1,
 * 2, ...) land in consecutive slots and a bulk insert streams through
 * memory; if some probe run grows past {@link MAX_PROBE} (keys that collide
 * on purpose or by pattern) the table is rebuilt once with a randomly
 * seeded mixing hash, which keeps every operation O(1) expected whatever
 * the keys.
 */
export class TokenIndex {
  #t: Int32Array;
  #mask: number;
  #size = 0;
  #dead = 0; // tombstones
  #seed = 0; // 0: dense-friendly hash; otherwise the seed of the mixing hash
  #probes = 0; // length of the last probe

  /** An index sized for about `expected` tokens. */
  constructor(expected = 0) {
    let cap = MIN_CAPACITY;
    while (cap < expected * 2) cap *= 2;
    this.#t = new Int32Array(cap * 4);
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
   * Word index of the slot holding the token, else of the slot where it
   * would go (the first tombstone met, else the empty slot that ends the
   * run); the probe length is left in `#probes`.
   */
  #probe(lo: number, hi: number): number {
    const t = this.#t;
    const mask = this.#mask;
    let free = -1;
    for (let i = this.#home(lo, hi), n = 0; n <= mask; i = (i + 1) & mask, n++) {
      const p = i << 2;
      const v = t[p + 2];
      if (v === 0) {
        this.#probes = n;
        return free >= 0 ? free : p;
      }
      if (v === TOMBSTONE) {
        if (free < 0) free = p;
      } else if (t[p] === lo && t[p + 1] === hi) {
        this.#probes = n;
        return p;
      }
    }
    if (free >= 0) return free;
    throw new RangeError("token index full (load factor invariant broken)");
  }

  /** The value of a token, or -1. */
  get(lo: number, hi: number): number {
    const v = this.#t[this.#probe(lo | 0, hi | 0) + 2];
    return v > 0 ? v - 1 : -1;
  }

  /** Inserts a token; returns -1, or the existing value (then nothing changes). */
  set(lo: number, hi: number, value: number): number {
    if ((this.#size + this.#dead + 1) * 2 > this.#mask + 1) this.#grow();
    lo |= 0;
    hi |= 0;
    const p = this.#probe(lo, hi);
    const t = this.#t;
    if (t[p + 2] > 0) return t[p + 2] - 1;
    if (this.#probes > MAX_PROBE && this.#seed === 0) {
      // A long run: rebuild with the mixing hash, then insert there.
      this.#rehash(this.#mask + 1, (crypto.getRandomValues(new Int32Array(1))[0] | 1) >>> 0);
      return this.set(lo, hi, value);
    }
    if (t[p + 2] === TOMBSTONE) this.#dead--;
    t[p] = lo;
    t[p + 1] = hi;
    t[p + 2] = value + 1;
    this.#size++;
    return -1;
  }

  /** Whether the table switched to the seeded mixing hash. */
  get mixed(): boolean {
    return this.#seed !== 0;
  }

  /** Replaces the value of a present token. */
  update(lo: number, hi: number, value: number): void {
    const p = this.#probe(lo | 0, hi | 0);
    if (this.#t[p + 2] <= 0) throw new RangeError("token not in index");
    this.#t[p + 2] = value + 1;
  }

  /** Removes a token (leaving a tombstone); returns its value or -1. */
  delete(lo: number, hi: number): number {
    const t = this.#t;
    const p = this.#probe(lo | 0, hi | 0);
    if (t[p + 2] <= 0) return -1;
    const value = t[p + 2] - 1;
    t[p + 2] = TOMBSTONE;
    this.#size--;
    this.#dead++;
    if (this.#dead * 4 > this.#mask + 1) this.#rehash(this.#mask + 1, this.#seed);
    return value;
  }

  /** Doubles the table when it is full of live tokens; else only drops the tombstones. */
  #grow(): void {
    const cap = this.#mask + 1;
    this.#rehash((this.#size + 1) * 2 > cap / 2 ? cap * 2 : cap, this.#seed);
  }

  #rehash(cap: number, seed: number): void {
    const old = this.#t;
    this.#t = new Int32Array(cap * 4);
    this.#mask = cap - 1;
    this.#size = 0;
    this.#dead = 0;
    this.#seed = seed;
    for (let p = 0; p < old.length; p += 4) {
      if (old[p + 2] > 0) this.set(old[p], old[p + 1], old[p + 2] - 1);
    }
  }

  /** Calls `fn` for every (lo, hi, value) as unsigned halves, in no particular order. */
  forEach(fn: (lo: number, hi: number, value: number) => void): void {
    const t = this.#t;
    for (let p = 0; p < t.length; p += 4) {
      if (t[p + 2] > 0) fn(t[p] >>> 0, t[p + 1] >>> 0, t[p + 2] - 1);
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
