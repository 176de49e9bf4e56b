/**
 * The raw arena ("physical memory") under the live update, the way KHO
 * sits under LUO: allocate, preserve, hand over and restore blocks of
 * pages by physical address. Services normally use the main entry point.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * using arena = Arena.create({ size: 1 << 20 });
 * const pa = arena.allocPreserve(4096);
 * arena.bytes(pa, 5).set(new TextEncoder().encode("hello"));
 * arena.handover(pa); // a successor could open the file now
 * Deno.removeSync(arena.path);
 * ```
 *
 * @module
 */

export {
  type AllocOptions,
  Arena,
  type ArenaInfo,
  ArenaMemory,
  type ArenaOptions,
  type CreateOptions,
  type OpenOptions,
  PAGE_SIZE,
  PHYS_BASE,
  POISON_BYTE,
  type Region,
  type RegionKind,
} from "./lib/kho/arena.ts";
export { KhoError, NativeLibraryError } from "./lib/errors.ts";
export { LIBRARY_ENV, platformName, prebuiltFor, prepareNativeLibrary } from "./lib/kho/library.ts";
export { PACKAGE_VERSION, PREBUILT, type PrebuiltLibrary } from "./lib/kho/prebuilt.ts";
