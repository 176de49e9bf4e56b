/**
 * Where an arena created without a path goes.
 *
 * @module
 */

import { readEnv, withPermission } from "./permission.ts";
import { statIfPresent } from "./stat.ts";

/** The directory of arenas in RAM on Linux, used when it exists. */
export const SHM_DIR = "/dev/shm";

/**
 * Directory of arenas created without a path: `$LUO_ARENA_DIR`, else
 * /dev/shm when it is a directory, else `$TMPDIR`, else /tmp.
 *
 * Never falls back silently: without the permission to look at /dev/shm it
 * throws `EACCES` naming the flag (Deno grants paths under /dev only with
 * `--allow-all`; set `LUO_ARENA_DIR` or give the arena a path to avoid it).
 */
export function temporaryArenaDir(): string {
  const why = "the directory of a temporary arena";
  const dir = readEnv("LUO_ARENA_DIR", why);
  if (dir !== undefined) return dir;
  const shm = withPermission(
    `looking for ${SHM_DIR} (${why}; set $LUO_ARENA_DIR or give the arena a path instead)`,
    () => statIfPresent(SHM_DIR)?.isDirectory ?? false,
  );
  if (shm) return SHM_DIR;
  return readEnv("TMPDIR", why) ?? "/tmp";
}
