/**
 * Live update for Deno: preserve named sessions of files in "physical"
 * memory (a shared arena file), hand them over to a successor process, and
 * retrieve them there by name and token without copying, the way Linux's
 * Live Update Orchestrator (LUO) does over Kexec HandOver (KHO).
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * const pa = arena.allocPreserve(4096);
 * arena.bytes(pa, 5).set(new TextEncoder().encode("hello"));
 * arena.handover(pa);
 * ```
 *
 * @module
 */

export {
  Arena,
  type ArenaInfo,
  type ArenaOptions,
  type CreateOptions,
  type OpenOptions,
  PAGE_SIZE,
  PHYS_BASE,
  POISON_BYTE,
  type Region,
  type RegionKind,
} from "./lib/kho.ts";
export {
  CorruptImageError,
  type ErrorCode,
  KhoError,
  LiveUpdateError,
  LuoError,
} from "./lib/errors.ts";
export {
  type HandoverSummary,
  LiveUpdate,
  type LiveUpdateOptions,
  type ReleaseSummary,
} from "./lib/luo.ts";
export { IncomingSession, OutgoingSession } from "./lib/session.ts";
export {
  type AnyFileHandler,
  type FileHandler,
  type HandlerContext,
  HandlerRegistry,
} from "./lib/handler.ts";
export { memfdHandler, MemFile } from "./lib/handlers/memfd.ts";
export { Value, valueHandler } from "./lib/handlers/value.ts";
export { type Token } from "./lib/file.ts";
export {
  type ChainLayout,
  COMPAT,
  DEFAULT_MAX_BLOCKS,
  FILE_CHAIN,
  SESSION_CHAIN,
} from "./lib/abi.ts";
export {
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_TOKEN,
  type ManifestEntry,
  preserveManifest,
  type ReadManifest,
  readManifest,
} from "./lib/manifest.ts";
