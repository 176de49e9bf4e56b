/**
 * Live update for Deno: preserve named sessions of files in "physical"
 * memory (a shared arena file), hand them over to a successor process, and
 * retrieve them there by name and token without copying, the way Linux's
 * Live Update Orchestrator (LUO) does over Kexec HandOver (KHO).
 *
 * Entry points: this one for services; `@luo/live-update/tools` (inspect,
 * convert), `@luo/live-update/kho` (the raw arena), `@luo/live-update/cli`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 *
 * // First generation: nothing to resume, so start creates the arena.
 * const luo = LiveUpdate.start(path, { size: 1 << 20 });
 * const cache = MemFile.from(luo.arena, new TextEncoder().encode("state"));
 * luo.createSession("service").preserve(cache, 1n);
 * luo.handover();
 *
 * // The successor (normally a new process) takes over the same pages.
 * using next = LiveUpdate.start(path, { size: 1 << 20 });
 * const s = next.retrieveSession("service");
 * console.log(new TextDecoder().decode(s.retrieve(1n, MemFile).read())); // "state"
 * s.finish();
 * next.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  CorruptImageError,
  type ErrorCode,
  ERRORS,
  KhoError,
  LiveUpdateError,
  LuoError,
  NativeLibraryError,
  UnflushedHandoverError,
} from "./lib/errors.ts";
export { LIBRARY_ENV, prepareNativeLibrary } from "./lib/kho/library.ts";
export { LiveUpdate } from "./lib/service/live_update.ts";
export type { LiveUpdateOptions, ReleaseSummary, StartOptions } from "./lib/service/options.ts";
export type { HandoverSummary } from "./lib/luo/handover.ts";
export { IncomingSession, type ObjectType, OutgoingSession } from "./lib/luo/session.ts";
export {
  type AnyFileHandler,
  type FileDescription,
  type FileHandler,
  type HandlerContext,
  HandlerRegistry,
  type IncomingFile,
  type OutgoingFile,
  type Registered,
  type RetrieveStatus,
} from "./lib/luo/handler.ts";
export { type Token } from "./lib/luo/token.ts";
export { type FlbOps } from "./lib/luo/flb.ts";
export { MemFile } from "./lib/handlers/memfd/mem_file.ts";
export { memfdHandler } from "./lib/handlers/memfd/v2.ts";
export { memfdV1Handler } from "./lib/handlers/memfd/v1.ts";
export { SEALS } from "./lib/format/memfd_v2_ser.ts";
export { Value, valueHandler } from "./lib/handlers/value.ts";
export {
  type MapKey,
  PreservedMap,
  type PreservedMapOptions,
  type PreservedMapStats,
  type ValueKind,
} from "./lib/handlers/kvmap/map.ts";
export { kvmapHandler } from "./lib/handlers/kvmap/handler.ts";
export {
  type Manifest,
  MANIFEST_FORMAT,
  MANIFEST_TOKEN,
  type ManifestEntry,
  preserveManifest,
  type ReadManifest,
  readManifest,
} from "./lib/service/manifest.ts";
export { DEFAULT_MAX_BLOCKS } from "./lib/format/block.ts";
export type {
  Arena,
  ArenaInfo,
  ArenaOptions,
  CreateOptions,
  OpenOptions,
  Region,
} from "./lib/kho/arena.ts";
