/**
 * The memory file handlers a live update registers: the one that writes
 * (memfd-v2, or memfd-v1 for an older successor) and the one that only
 * reads the other format, each retrieving files with their pages
 * populated in bulk unless told not to.
 *
 * @module
 */

import type { FileHandler } from "../../luo/handler.ts";
import type { MemFile } from "./mem_file.ts";
import { memfdV1Handler, memfdV1Reader } from "./v1.ts";
import { memfdHandler } from "./v2.ts";

/** Files larger than this are populated when retrieved (smaller ones take a fault or two). */
export const POPULATE_MIN_BYTES = 64 * 1024;

/** Options of {@link memfdHandlers}. */
export interface MemfdHandlersOptions {
  /** The format new files are handed over in. */
  format: "memfd-v2" | "memfd-v1";
  /** Populate the pages of a retrieved file over {@link POPULATE_MIN_BYTES} (`MemFile.populate`). */
  populate: boolean;
}

/** `handler`, its retrieve populating the file's pages (files over 64 KiB). */
export function populating(handler: FileHandler<MemFile>): FileHandler<MemFile> {
  return {
    ...handler,
    retrieve(ctx, file) {
      const f = handler.retrieve(ctx, file);
      if (f.size > POPULATE_MIN_BYTES) f.populate();
      return f;
    },
  };
}

/** The two memfd handlers to register: the one that writes `format`, then the reader of the other. */
export function memfdHandlers(options: MemfdHandlersOptions): FileHandler<MemFile>[] {
  const handlers = options.format === "memfd-v1"
    ? [memfdV1Handler, { ...memfdHandler, canPreserve: () => false }]
    : [memfdHandler, memfdV1Reader];
  return options.populate ? handlers.map(populating) : handlers;
}
