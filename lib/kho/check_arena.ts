/**
 * The arena argument of the constructors of preservable objects, checked:
 * a wrongly typed argument is `EINVAL` naming the call, not a `TypeError`
 * from deep inside.
 *
 * @module
 */

import { KhoError, typeOf } from "../errors.ts";
import { Arena } from "./arena.ts";

/** Returns `arena` when it is an {@link Arena}; `EINVAL` naming `what` otherwise. */
export function checkArena(what: string, arena: unknown): Arena {
  if (arena instanceof Arena) return arena;
  throw new KhoError(
    "EINVAL",
    `${what}: expected an Arena (such as luo.arena), got ${typeOf(arena)}`,
  );
}
