/**
 * Listing an arena's blocks of one kind (handed over, preserved,
 * allocated), in address order, one native call per block
 * (`kho_next_region`).
 *
 * @module
 */

import { ERRORS, KhoError } from "../errors.ts";
import { checkNative } from "./native_error.ts";
import { nativeCall, type NativeCaller } from "./native_call.ts";
import { PAGE_SIZE, PHYS_BASE, type Region, REGION_KIND, type RegionKind } from "./physical.ts";

/** The blocks of `kind` of an arena of `size` bytes, in address order. */
export function* listRegions(
  arena: NativeCaller,
  size: number,
  kind: RegionKind,
): Generator<Region> {
  const out = new BigUint64Array(2);
  const outBytes = new Uint8Array(out.buffer);
  let from = PHYS_BASE;
  // Bounded: each block found is at least a page past the last one.
  for (let guard = 0; guard <= size / PAGE_SIZE; guard++) {
    const { native, handle } = arena[nativeCall]();
    const rc = native.kho_next_region(handle, from, REGION_KIND[kind], outBytes);
    if (rc === -ERRORS.ENOENT.errno) return;
    checkNative(native, rc, () => `list ${kind} regions`);
    yield { pa: out[0], pages: Number(out[1]) };
    from = out[0] + BigInt(out[1]) * BigInt(PAGE_SIZE);
  }
  throw new KhoError("EIO", `list ${kind} regions: more regions than pages`);
}
