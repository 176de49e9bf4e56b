/**
 * Arenas created without a path: where their files go, and removing them.
 *
 * @module
 */

/**
 * Directory of arenas created without a path: $LUO_ARENA_DIR, else /dev/shm
 * when it is a directory, else $TMPDIR or /tmp.
 */
export function temporaryArenaDir(): string {
  const dir = Deno.env.get("LUO_ARENA_DIR");
  if (dir) return dir;
  try {
    if (Deno.statSync("/dev/shm").isDirectory) return "/dev/shm";
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return Deno.env.get("TMPDIR") ?? "/tmp";
}

/** A fresh path for a temporary arena of this process. */
export function temporaryArenaPath(): string {
  return `${temporaryArenaDir()}/luo-${Deno.pid}-${crypto.randomUUID()}.arena`;
}

/** Removes a file; one that is gone already is fine, any other failure is thrown. */
export function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
