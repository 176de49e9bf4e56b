/**
 * The built-in handlers and FLBs, in one list: what a live update
 * registers before anything is read, and what inspection knows how to
 * describe. The orchestrator (`lib/luo/`) knows handlers only through this
 * module's lists.
 *
 * @module
 */

import { LuoError, typeOf } from "../errors.ts";
import type { FlbOps } from "../luo/flb.ts";
import type { AnyFileHandler } from "../luo/handler.ts";
import { kvmapHandler } from "./kvmap/handler.ts";
import { descriptorPagesFlb, MEMFD_V2_PAGES } from "./memfd/descriptor_pages.ts";
import { memfdHandlers } from "./memfd/handlers.ts";
import { memfdV1Handler } from "./memfd/v1.ts";
import { memfdHandler } from "./memfd/v2.ts";
import { valueHandler } from "./value.ts";

/**
 * The built-in handlers of a live update: memory files handed over as
 * `memfdFormat` (default memfd-v2; the other format is registered to read
 * only), retrieved files populated unless `memfdPopulate` is false, values
 * and preserved maps. `EINVAL` for an unknown format or a populate option
 * that is not a boolean.
 */
export function builtinHandlers(
  options: { memfdFormat?: unknown; memfdPopulate?: unknown } = {},
): AnyFileHandler[] {
  const format = options.memfdFormat ?? "memfd-v2";
  if (format !== "memfd-v2" && format !== "memfd-v1") {
    throw new LuoError(
      "EINVAL",
      `memfdFormat must be "memfd-v2" or "memfd-v1", got ${JSON.stringify(format)}`,
    );
  }
  const populate = options.memfdPopulate ?? true;
  if (typeof populate !== "boolean") {
    throw new LuoError("EINVAL", `option memfdPopulate must be a boolean, got ${typeOf(populate)}`);
  }
  return [...memfdHandlers({ format, populate }), valueHandler, kvmapHandler] as AnyFileHandler[];
}

/** The built-in FLBs, by the compatible of the handler they attach to. */
export const BUILTIN_FLBS: readonly { handler: string; flb: FlbOps }[] = [
  { handler: memfdHandler.compatible, flb: descriptorPagesFlb as FlbOps },
];

/** Every built-in handler (both memfd formats), for inspection. */
export const INSPECTED_HANDLERS: readonly AnyFileHandler[] = [
  memfdHandler,
  memfdV1Handler,
  valueHandler,
  kvmapHandler,
];

/** Compatibles of the built-in FLBs, for inspection. */
export const INSPECTED_FLBS: readonly string[] = [MEMFD_V2_PAGES];
