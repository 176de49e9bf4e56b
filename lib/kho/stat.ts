/**
 * Looking at a path that may not exist.
 *
 * @module
 */

/**
 * `Deno.statSync(path)` (`lstatSync` when `follow` is false), or `undefined`
 * when nothing is there; every other error (a missing permission included)
 * is thrown as it is.
 */
export function statIfPresent(path: string, follow = true): Deno.FileInfo | undefined {
  try {
    return follow ? Deno.statSync(path) : Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}
