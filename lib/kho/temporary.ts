/**
 * Arenas created without a path: where their files go, and removing them.
 *
 * @module
 */

import { temporaryArenaDir } from "./arena_dir.ts";

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
