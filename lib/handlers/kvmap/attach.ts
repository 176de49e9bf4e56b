/**
 * Growth of a retrieved map inside a generation: a block allocated now is
 * not part of the image the predecessor published, which stays the one a
 * restarted successor reads until this process hands over. Before a new
 * block becomes reachable from the map's header, it is attached to that
 * image (`Arena.attach`, crash-safe), so that a successor killed after the
 * switch finds the block handed over with the rest of the map. A block
 * the map stops naming (a dropped segment, a replaced index) is freed with
 * `Arena.freeUnreferenced` once the commit that drops it is made: it leaves
 * the published image at once, so a successor's room does not grow with
 * the bytes it writes.
 *
 * @module
 */

import { LiveUpdateError } from "../../errors.ts";
import type { Arena } from "../../kho/arena.ts";

/**
 * Appends block `pa` to the image published in `arena`; nothing to do
 * when nothing is published (`ENOENT`: the image was given up with
 * `discardIncoming`, and a crash would find no map to read anyway).
 */
export function attachToImage(arena: Arena, pa: bigint): void {
  try {
    arena.attach(pa);
  } catch (e) {
    if (!(e instanceof LiveUpdateError) || e.code !== "ENOENT") throw e;
  }
}
