/**
 * Fixtures shared by tests, benchmarks and the fuzzer.
 *
 * @module
 */

import type { FileHandler } from "../lib/handler.ts";

/** A file whose `data` is a plain number: no pages of its own, the 64-byte entry is all there is. */
export interface Bare {
  t: bigint;
}

/** The handler of {@link Bare} files. */
export const bareHandler: FileHandler<Bare> = {
  compatible: "test-bare-v1",
  canPreserve: (_c, o) => typeof o === "object" && o !== null && "t" in o,
  preserve: (_c, o) => o.t,
  unpreserve: () => {},
  freeze: () => {},
  unfreeze: () => {},
  retrieve: (_c, data) => ({ t: data }),
  canFinish: () => true,
  finish: () => {},
};
