/**
 * Shared fixtures of the benchmarks: a handler whose files are bare
 * entries, arenas sized for a workload, the size lists (big sizes behind
 * LUO_BENCH_BIG=1), and helpers to prepare a handed-over arena.
 *
 * @module
 */

import { LiveUpdate } from "../mod.ts";
import { FILE_CHAIN } from "../lib/format/file_ser.ts";
import { SESSION_CHAIN } from "../lib/format/session_ser.ts";
import { PAGE_SIZE } from "../lib/kho/arena.ts";

/** Big sizes (1M files, 1 GiB) run only with LUO_BENCH_BIG=1. */
export const BIG = Deno.env.get("LUO_BENCH_BIG") === "1";

/** File counts of the entry benchmarks. */
export const FILE_COUNTS = BIG ? [1_000, 10_000, 100_000, 1_000_000] : [1_000, 10_000, 100_000];

/** Session counts of the session benchmarks. */
export const SESSION_COUNTS = BIG ? [1_000, 10_000, 100_000] : [1_000, 10_000];

export { type Bare, bareHandler } from "../testing/bare_handler.ts";
import { type Bare, bareHandler } from "../testing/bare_handler.ts";

/** Power-of-two arena size holding `bytes` plus slack. */
export function arenaFor(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes * 2 + (4 << 20)));
}

/** Bytes of file blocks for `n` files. */
export function fileBlockBytes(n: number): number {
  return Math.ceil(n / FILE_CHAIN.perBlock) * FILE_CHAIN.blockSize;
}

/** A live update with `sessions` sessions of `files` bare files each (not handed over). */
export function prepare(sessions: number, files: number): LiveUpdate {
  const bytes = sessions * (fileBlockBytes(files) + SESSION_CHAIN.blockSize) + 16 * PAGE_SIZE;
  const luo = LiveUpdate.create({ size: arenaFor(bytes), handlers: [bareHandler] });
  const objs: Bare[] = Array.from({ length: files }, (_, i) => ({ t: BigInt(i) }));
  for (let s = 0; s < sessions; s++) {
    const session = luo.createSession(`s${s}`);
    for (let i = 0; i < files; i++) {
      session.preserve(sessions === 1 ? objs[i] : { t: BigInt(i) }, BigInt(i));
    }
  }
  return luo;
}

/** Hands `luo` over and returns the arena's path and bytes, to replay restores. */
export function handedOver(luo: LiveUpdate): { path: string; bytes: Uint8Array } {
  const path = luo.arena.path;
  luo.handover();
  return { path, bytes: Deno.readFileSync(path) };
}

/** Removes a file when the benchmark process ends. */
export function removeAtExit(path: string): void {
  addEventListener("unload", () => {
    try {
      Deno.removeSync(path);
    } catch { /* gone already */ }
  });
}

/** Key counts of the map benchmarks. */
export const KVMAP_SIZES = BIG ? [10_000, 100_000, 1_000_000] : [10_000, 100_000];

/** Bytes of every value in the map benchmarks. */
export const KV_VALUE_BYTES = 100;

/** The key of entry `i` of the map benchmarks. */
export function kvKey(i: number): string {
  return `key-${i}`;
}

/** The value of entry `i` (deterministic, {@link KV_VALUE_BYTES} long). */
export function kvValue(i: number): Uint8Array {
  const v = new Uint8Array(KV_VALUE_BYTES);
  for (let k = 0; k < v.length; k++) v[k] = (i * 31 + k * 7) & 0xff;
  return v;
}

/** An arena for a map of `n` entries, with room to overwrite them all (dead bytes wait for compaction). */
export function kvArenaSize(n: number): number {
  return arenaFor(n * 300 + (32 << 20));
}
