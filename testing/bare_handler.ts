/**
 * A handler whose files are bare entries, shared by tests, benchmarks and
 * the fuzzer: the LUO layer is then what is measured or damaged.
 *
 * @module
 */

import type { FileHandler } from "../mod.ts";

/** A file whose `data` is a plain number: no pages of its own, the 64-byte entry is all there is. */
export interface Bare {
  t: bigint;
}

/** The handler of {@link Bare} files (only the required ops). */
export const bareHandler: FileHandler<Bare> = {
  compatible: "test-bare-v1",
  canPreserve: (_c, o) => typeof o === "object" && o !== null && "t" in o,
  preserve: (_c, f) => f.obj.t,
  unpreserve: () => {},
  retrieve: (_c, f) => ({ t: f.data }),
  finish: () => {},
};
