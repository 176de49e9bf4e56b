/**
 * The options and results of a live update (see `live_update.ts`).
 *
 * @module
 */

import type { LiveUpdateError } from "../errors.ts";
import type { CreateOptions, OpenOptions } from "../kho/arena.ts";
import type { FlbOps } from "./flb.ts";
import type { AnyFileHandler } from "./handler.ts";

/** Options shared by `LiveUpdate.create`, `LiveUpdate.open` and `LiveUpdate.start`. */
export interface LiveUpdateOptions {
  /** Safety cap on the blocks of one chain (default `DEFAULT_MAX_BLOCKS`, 2^20). */
  maxBlocks?: number;
  /** Handlers to register besides the built-in ones, before anything is read. */
  handlers?: AnyFileHandler[];
  /** FLBs to attach to handlers (by handler compatible), before anything is read. */
  flbs?: { handler: string; flb: FlbOps }[];
  /**
   * The format new memory files are handed over in: `"memfd-v2"` (default:
   * 128 bytes of metadata per small file, seals kept) or `"memfd-v1"` (for a
   * successor built before memfd-v2). Both are read either way.
   */
  memfdFormat?: "memfd-v2" | "memfd-v1";
  /**
   * Whether retrieving a memory file over 64 KiB maps its pages in bulk
   * (`MemFile.populate`; default `true`), so that reading every byte takes
   * no page fault per 4 KiB. `false` for files you will not read soon.
   */
  memfdPopulate?: boolean;
}

/** Options of `LiveUpdate.start`. */
export interface StartOptions
  extends LiveUpdateOptions, Omit<CreateOptions, "path">, Pick<OpenOptions, "allowOtherOwner"> {
  /**
   * What to do when the arena holds a handed-over image that cannot be
   * read: `"refuse"` (default) throws and leaves the file as it is;
   * `"move-aside"` renames it to `PATH.damaged-<time>` and starts empty.
   */
  damaged?: "refuse" | "move-aside";
}

/** What a handover did. */
export interface HandoverSummary {
  /** The number this handover carries (`liveupdate-number`). */
  liveupdateNumber: bigint;
  /** Sessions handed over. */
  sessions: number;
  /** Files handed over, in all sessions. */
  files: number;
  /** Physical address of the KHO root FDT. */
  root: bigint;
}

/** What `LiveUpdate.releaseUnclaimed` (or `discardIncoming`) released. */
export interface ReleaseSummary {
  /** Incoming sessions discarded because nobody retrieved them. */
  sessions: string[];
  /** Handed-over regions freed that no session referenced any more. */
  regions: number;
  /** Pages of those regions. */
  pages: number;
  /** Errors met while discarding (damaged file data); the pages were freed anyway. */
  errors: LiveUpdateError[];
}
