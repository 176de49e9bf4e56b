/**
 * Shared fixtures of the benchmarks: the size lists (big sizes behind
 * `LUO_BENCH_BIG=1`), images of N bare entries (a handler that keeps
 * nothing but the 64-byte entry, so that the LUO layer is what is
 * measured), arena sizes, and removal of files when a bench process ends.
 *
 * @module
 */

import { LiveUpdate } from "../mod.ts";
import { FILE_CHAIN } from "../lib/format/file_ser.ts";
import { SESSION_CHAIN } from "../lib/format/session_ser.ts";
import { Arena, PAGE_SIZE } from "../kho.ts";
import { type Bare, bareHandler } from "../testing/bare_handler.ts";
import { testArenaDir } from "../testing/temp_arena.ts";

export { removeIfPresent } from "../lib/kho/temporary.ts";
import { fileCounts, sessionCounts } from "../testing/bench_sizes.ts";

export { type Bare, bareHandler } from "../testing/bare_handler.ts";

/** Big sizes (1M files, 100k sessions, 1 GiB) run only with LUO_BENCH_BIG=1. */
export const BIG = Deno.env.get("LUO_BENCH_BIG") === "1";

/** Files in one session of this process's benchmarks. */
export const FILE_COUNTS = fileCounts(BIG);

/** Sessions of this process's benchmarks. */
export const SESSION_COUNTS = sessionCounts(BIG);

/** The name of the one session of a bare image. */
export const BARE_SESSION = "s0";

/** `Deno.bench` iterations for a workload of `n` files or sessions: fewer as it grows. */
export function iterationsFor(n: number): { n: number; warmup: number } {
  if (n >= 100_000) return { n: 3, warmup: 1 };
  if (n >= 10_000) return { n: 20, warmup: 3 };
  return { n: 100, warmup: 10 };
}

/** A new directory for a bench process's arenas (/dev/shm when present), removed when it ends. */
export function benchDir(prefix: string): string {
  const dir = Deno.makeTempDirSync({ prefix: `luo-bench-${prefix}-`, dir: testArenaDir() });
  addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  return dir;
}

/** Power-of-two arena size holding `bytes` plus slack. */
export function arenaFor(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes * 2 + (4 << 20)));
}

/** Bytes of file blocks for `n` files. */
export function fileBlockBytes(n: number): number {
  return Math.ceil(n / FILE_CHAIN.perBlock) * FILE_CHAIN.blockSize;
}

/** `n` bare objects, token i for object i. */
export function bareObjects(n: number): Bare[] {
  return Array.from({ length: n }, (_, i) => ({ t: BigInt(i) }));
}

/**
 * A live update (a new arena at `path`, or a temporary one) that knows the
 * bare handler, sized for one session of `files` bare entries; nothing is
 * preserved yet.
 */
export function bareLiveUpdate(files: number, path?: string): LiveUpdate {
  const bytes = fileBlockBytes(files) + SESSION_CHAIN.blockSize + 16 * PAGE_SIZE;
  return LiveUpdate.create({ path, size: arenaFor(bytes), handlers: [bareHandler] });
}

/** Preserves `objs` (token i for object i) in a new session {@link BARE_SESSION}. */
export function preserveBare(luo: LiveUpdate, objs: readonly Bare[]): void {
  const s = luo.createSession(BARE_SESSION);
  for (let i = 0; i < objs.length; i++) s.preserve(objs[i], objs[i].t);
}

/**
 * Loads the native library now (a temporary two-page arena, created and
 * closed), so that no timed span of a fresh process pays for finding,
 * checking and loading it; returns the nanoseconds that took.
 */
export function loadNativeLibraryNow(): number {
  const t0 = performance.now();
  Arena.create({ size: 2 * PAGE_SIZE }).close();
  return (performance.now() - t0) * 1e6;
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
