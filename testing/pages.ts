/**
 * Page accounting for tests and benchmarks: the pages an arena has in use.
 *
 * @module
 */

import type { ArenaInfo } from "../lib/kho/info.ts";

/** Pages in use: allocated (preserved or not), handed over and not claimed, parked after a free. */
export function pagesInUse(info: ArenaInfo): number {
  return info.allocatedPages + info.handedOverPages + info.deferredPages;
}
