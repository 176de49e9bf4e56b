/**
 * Growth of a retrieved map inside a generation: a block allocated now is
 * not part of the image the predecessor published, which stays the one a
 * restarted successor reads until this process hands over. Before a new
 * block becomes reachable from the map's header, it is attached to that
 * image (`Arena.attach`, a native primitive: "append an allocated block of
 * mine to the currently published image, crash-safely; ENOENT when nothing
 * is published").
 *
 * Local shim until that primitive is on main: with it, this calls it;
 * without it, a retrieved map still grows, but a process killed after a
 * growth step and before its handover leaves a map whose next retrieve
 * fails with a typed error (the new block was not handed over) instead of
 * reading as before or after. Delete the fallback once `Arena.attach`
 * exists.
 *
 * @module
 */

import { LiveUpdateError } from "../../errors.ts";
import { Arena } from "../../kho/arena.ts";

type Attach = (this: Arena, pa: bigint) => void;

/** The native `Arena.attach`, when this build has it. */
const nativeAttach = (Arena.prototype as unknown as { attach?: Attach }).attach;

/** Whether growth of a retrieved map is crash-safe in this build (the native primitive exists). */
export const ATTACH_IS_NATIVE: boolean = typeof nativeAttach === "function";

/**
 * Appends block `pa` to the image currently published in `arena`; nothing
 * to do when nothing is published (`ENOENT`).
 */
export function attachToImage(arena: Arena, pa: bigint): void {
  if (!nativeAttach) return;
  try {
    nativeAttach.call(arena, pa);
  } catch (e) {
    if (!(e instanceof LiveUpdateError) || e.code !== "ENOENT") throw e;
  }
}
