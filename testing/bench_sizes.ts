/**
 * The sizes the benchmarks run at, shared by the bench files (bench/) and
 * the report that drives them (dev/report/): big sizes only on request.
 *
 * @module
 */

/** Files in one session, up to 100k (1M with `big`). */
export function fileCounts(big: boolean): number[] {
  return big ? [1_000, 10_000, 100_000, 1_000_000] : [1_000, 10_000, 100_000];
}

/** Sessions (of one file each), up to 10k (100k with `big`). */
export function sessionCounts(big: boolean): number[] {
  return big ? [1_000, 10_000, 100_000] : [1_000, 10_000];
}

/** State sizes of the cold-read benchmark in MiB: 256 (and 1 GiB with `big`). */
export function stateMiB(big: boolean): number[] {
  return big ? [256, 1024] : [256];
}

/** Files of the "keep alive through finish" pair: a quadratic path shows as 4x per file. */
export const KEEP_ALIVE_FILES = [5_000, 20_000];

/** Largest number of files (or sessions) a benchmark builds. */
export const MAX_BENCH_FILES = 10_000_000;

/** Largest state of the cold-read benchmark, in MiB (16 GiB). */
export const MAX_STATE_MIB = 16 * 1024;
