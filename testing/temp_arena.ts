/**
 * Temporary arena paths for tests, benchmarks and the fuzzer, in a fresh
 * directory (mode 0700) that `cleanup` removes with everything in it.
 *
 * @module
 */

import { temporaryArenaDir } from "../lib/kho/arena_dir.ts";

/** Where test arenas go: the directory of temporary arenas ($LUO_ARENA_DIR, /dev/shm, the temp dir). */
export function testArenaDir(): string {
  return temporaryArenaDir();
}

/** A temporary directory and a not yet existing arena path in it. */
export interface TempArena {
  /** The arena path (not created). */
  path: string;
  /** The directory. */
  dir: string;
  /** Removes the directory and everything in it. */
  cleanup: () => void;
}

/** A fresh, not yet existing arena path in a new temp dir that `cleanup` removes. */
export function tempArena(name = "test"): TempArena {
  const dir = Deno.makeTempDirSync({ prefix: "luo-test-", dir: testArenaDir() });
  return {
    path: `${dir}/${name}.arena`,
    dir,
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
}
