/**
 * What the garbage collector does with an arena nobody closed: it closes it
 * (and removes a temporary one's file) once the arena and every view of
 * its memory are unreachable, never earlier.
 *
 * @module
 */

import type { Native } from "./symbols.ts";
import { removeIfPresent } from "./temporary.ts";

/** What the collector closes when an arena and every view of its memory are gone. */
export interface Held {
  native: Native;
  handle: number;
  /** Path of a temporary arena never handed over (removed with it), else null. */
  remove: string | null;
}

// Registered on the mapping's ArrayBuffer, not on the Arena: a view
// (Uint8Array, DataView) keeps its buffer reachable, so the memory is
// never unmapped while any view of it can still be used.
const finalizer = new FinalizationRegistry<Held>((h) => {
  h.native.kho_close(h.handle);
  if (h.remove) removeIfPresent(h.remove);
});

/** Closes `held` once `buffer` (the mapping) is collected. */
export function closeWhenCollected(buffer: ArrayBuffer, held: Held): void {
  finalizer.register(buffer, held, held);
}

/** Undoes {@link closeWhenCollected}: the arena is being closed explicitly. */
export function closedExplicitly(held: Held): void {
  finalizer.unregister(held);
}
