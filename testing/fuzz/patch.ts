/**
 * What the fuzzer's mutations are made of: byte patches at file offsets,
 * and the values and patches they draw (wild words and pointers, a
 * patched word, a flipped bit).
 *
 * @module
 */

import { PAGE_SIZE, PHYS_BASE } from "../../lib/kho/arena.ts";
import type { Rng } from "../rng.ts";
import type { Layout } from "./shapes.ts";

/** Bytes written at a file offset. */
export interface Patch {
  off: number;
  bytes: number[];
}

/** One damage done to an arena. */
export interface Mutation {
  kind: string;
  description: string;
  patches: Patch[];
  /** New file length, when the mutation truncates the file. */
  truncate?: number;
}

/** File offset of physical address `pa`. */
export const off = (pa: bigint) => Number(pa - PHYS_BASE);

/** A little-endian u64 patch. */
export function u64(at: number, v: bigint): Patch {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return { off: at, bytes: [...b] };
}

/** A little-endian u32 patch. */
export function u32le(at: number, v: number): Patch {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return { off: at, bytes: [...b] };
}

/** Interesting u32 values for the fields of a map. */
export function wildWord(rng: Rng, near: number): number {
  return rng.pick([
    0,
    1,
    2,
    7,
    8,
    near + 1,
    near - 1,
    near + 8,
    near * 2,
    0x7fffffff,
    0xffffffff,
    1 << rng.int(32),
    rng.int(2 ** 32),
  ]) >>> 0;
}

/** A patch of word `i` after `pa` (the value near the base's), named. */
export function wordPatch(
  rng: Rng,
  base: Uint8Array,
  pa: bigint,
  i: number,
  kind: string,
): Mutation {
  const at = off(pa) + i * 4;
  const old = new DataView(base.buffer, base.byteOffset).getUint32(at, true);
  const v = rng.next() < 0.3 ? old ^ (1 << rng.int(32)) : wildWord(rng, old);
  return {
    kind,
    description: `${kind} word ${i} at 0x${pa.toString(16)}: ${old} -> ${v >>> 0}`,
    patches: [u32le(at, v)],
  };
}

/** A big-endian u32 patch (device trees). */
export function u32be(at: number, v: number): Patch {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0);
  return { off: at, bytes: [...b] };
}

/** Interesting u64 values for counts and pointers. */
export function wildValue(rng: Rng, layout: Layout, near: bigint): bigint {
  const end = PHYS_BASE + BigInt(layout.size);
  return rng.pick([
    0n,
    1n,
    near + 8n,
    near,
    end,
    end + BigInt(PAGE_SIZE),
    PHYS_BASE,
    PHYS_BASE - BigInt(PAGE_SIZE),
    (1n << 64n) - 1n,
    1n << 63n,
    BigInt(rng.int(2 ** 31)),
    PHYS_BASE + BigInt(rng.int(layout.size / PAGE_SIZE)) * BigInt(PAGE_SIZE),
  ]);
}

/** A mutation generator: null when the arena has nothing it aims at. */
export type Gen = (rng: Rng, l: Layout, base: Uint8Array) => Mutation | null;

/** A flipped bit of the byte at `at`. */
export function flip(rng: Rng, base: Uint8Array, at: number, where: string): Mutation {
  const bit = rng.int(8);
  return {
    kind: `bitflip-${where}`,
    description: `flip bit ${bit} at 0x${(PHYS_BASE + BigInt(at)).toString(16)}`,
    patches: [{ off: at, bytes: [base[at] ^ (1 << bit)] }],
  };
}
