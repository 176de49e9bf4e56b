/**
 * The built-in handlers and FLBs, in one list: what a live update
 * registers before anything is read, and what inspection knows how to
 * describe. The orchestrator (`lib/luo/`) knows handlers only through this
 * module's lists.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import type { FlbOps } from "../luo/flb.ts";
import type { AnyFileHandler } from "../luo/handler.ts";
import { kvmapHandler } from "./kvmap/handler.ts";
import { descriptorPagesFlb, MEMFD_V2_PAGES } from "./memfd/descriptor_pages.ts";
import { memfdV1Handler, memfdV1Reader } from "./memfd/v1.ts";
import { memfdHandler } from "./memfd/v2.ts";
import { valueHandler } from "./value.ts";

/** The formats new memory files can be handed over in. */
export type MemfdFormat = "memfd-v2" | "memfd-v1";

/**
 * The built-in handlers of a live update that hands memory files over as
 * `format` (default memfd-v2); the other memfd format is registered to
 * read only. `EINVAL` for an unknown format.
 */
export function builtinHandlers(format: unknown = "memfd-v2"): AnyFileHandler[] {
  if (format !== "memfd-v2" && format !== "memfd-v1") {
    throw new LuoError(
      "EINVAL",
      `memfdFormat must be "memfd-v2" or "memfd-v1", got ${JSON.stringify(format)}`,
    );
  }
  const memfd: AnyFileHandler[] = format === "memfd-v1"
    ? [memfdV1Handler, { ...memfdHandler, canPreserve: () => false }]
    : [memfdHandler, memfdV1Reader];
  return [...memfd, valueHandler, kvmapHandler];
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
