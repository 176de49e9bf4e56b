/**
 * The workload of the lifecycle benchmarks: S sessions named `s<i>`, each
 * with F memory files of 100 bytes (tokens 0..F-1), handed over with the
 * real memfd handler; and the arena that holds it for three generations.
 *
 * @module
 */

import { LuoError } from "../../lib/errors.ts";
import { PAGE_SIZE } from "../../kho.ts";
import { patternByte } from "../../testing/pattern.ts";
import { MAX_BENCH_FILES } from "../../testing/bench_sizes.ts";

/** Bytes of every file of the lifecycle benchmarks. */
export const FILE_BYTES = 100;

/** S sessions of F files each. */
export interface Shape {
  /** Number of sessions. */
  sessions: number;
  /** Files in every session. */
  files: number;
}

/** Checks a shape (`EINVAL` naming the bad count); returns it. */
export function checkShape(shape: Shape): Shape {
  for (const [what, v] of Object.entries(shape)) {
    if (!Number.isSafeInteger(v) || v < 1 || v > MAX_BENCH_FILES) {
      throw new LuoError("EINVAL", `lifecycle shape: ${what} ${v} is not an integer in 1..1e7`);
    }
  }
  if (shape.sessions * shape.files > MAX_BENCH_FILES) {
    throw new LuoError(
      "EINVAL",
      `lifecycle shape: ${shape.sessions} x ${shape.files} files is over ${MAX_BENCH_FILES}`,
    );
  }
  return shape;
}

/** Files of a shape, in all sessions. */
export function totalFiles(shape: Shape): number {
  return shape.sessions * shape.files;
}

/** Name of session `i`. */
export function sessionName(i: number): string {
  return `s${i}`;
}

/** The 100 bytes of file `j` of session `i`. */
export function fileBody(i: number, j: number): Uint8Array {
  const body = new Uint8Array(FILE_BYTES);
  for (let k = 0; k < FILE_BYTES; k++) body[k] = patternByte(i + j, k);
  return body;
}

/**
 * Arena bytes for a shape carried through any number of generations: a data
 * page per file, and twice the metadata (the predecessor's stays parked
 * while the successor writes its own): 256 bytes per file for descriptors
 * and entries, two file-block pages per session and the session blocks,
 * the preserved-memory map, and 16 MiB of slack.
 */
export function lifecycleArenaSize(shape: Shape): number {
  const n = totalFiles(shape);
  const s = shape.sessions;
  const metadata = Math.ceil((n * 256) / PAGE_SIZE) + 2 * s * Math.ceil(shape.files / 127) +
    2 * Math.ceil(s / 102);
  const map = 2 * Math.ceil((n + metadata) / 254);
  return (n + 2 * metadata + map + 4096) * PAGE_SIZE;
}
