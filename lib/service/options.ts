/**
 * The options and results of a live update (see `live_update.ts`).
 *
 * @module
 */

import type { LiveUpdateError } from "../errors.ts";
import type { CreateOptions, OpenOptions } from "../kho/arena.ts";
import type { FlbOps } from "../luo/flb.ts";
import type { AnyFileHandler } from "../luo/handler.ts";

/**
 * Options shared by `LiveUpdate.create`, `LiveUpdate.open` and `LiveUpdate.start`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, type LiveUpdateOptions } from "@luo/live-update";
 * // For a successor that predates memfd-v2, with a tighter cap on chain blocks.
 * const options: LiveUpdateOptions = { memfdFormat: "memfd-v1", maxBlocks: 1024 };
 * using luo = LiveUpdate.create({ size: 1 << 20, ...options });
 * console.log(luo.handlers.compatibles()[0]); // "memfd-v1": it preserves new memory files
 * ```
 */
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

/**
 * Options of `LiveUpdate.start`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, type StartOptions } from "@luo/live-update";
 * const dir = Deno.makeTempDirSync();
 * const options: StartOptions = { size: 1 << 20, damaged: "move-aside" };
 * const luo = LiveUpdate.start(`${dir}/service.arena`, options);
 * console.log(luo.resumed, luo.movedAside); // false undefined: a first start
 * luo.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export interface StartOptions
  extends LiveUpdateOptions, Omit<CreateOptions, "path">, Pick<OpenOptions, "allowOtherOwner"> {
  /**
   * What to do when the arena holds a handed-over image that cannot be
   * read: `"refuse"` (default) throws and leaves the file as it is;
   * `"move-aside"` renames it to `PATH.damaged-<time>` and starts empty.
   */
  damaged?: "refuse" | "move-aside";
}

/**
 * What `LiveUpdate.releaseUnclaimed` (or `discardIncoming`) released.
 *
 * @example
 * ```ts
 * import { LiveUpdate, type ReleaseSummary, Value } from "@luo/live-update";
 * const old = LiveUpdate.create({ size: 1 << 20 });
 * old.createSession("obsolete").preserve(new Value("no longer used"), 1n);
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path);
 * const released: ReleaseSummary = luo.releaseUnclaimed();
 * console.log(released.sessions, released.errors.length); // ["obsolete"] 0
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface ReleaseSummary {
  /** Incoming sessions discarded because nobody retrieved them. */
  sessions: string[];
  /**
   * Handed-over blocks released: those of the discarded sessions and those
   * nothing referenced (freed, or parked until this process hands over).
   */
  regions: number;
  /** Pages of those blocks. */
  pages: number;
  /** Errors met while discarding (damaged file data); the pages were freed anyway. */
  errors: LiveUpdateError[];
}
