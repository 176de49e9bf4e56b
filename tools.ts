/**
 * Tools to look inside arenas and to read previous formats: inspect an
 * arena (as a report object, rendered by the CLI as a tree or JSON) and
 * convert a `luo-session-v3` image to v4 in place.
 *
 * @example
 * ```ts
 * import { LiveUpdate } from "@luo/live-update";
 * import { convertArena, inspectArena } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.handover(); // a handed-over image, as a service leaves it
 * const report = inspectArena(luo.arena.path);
 * console.log(report.liveupdateNumber, report.sessions?.length); // "1" 0
 * if (report.format === "luo-session-v3") convertArena(report.path);
 * Deno.removeSync(luo.arena.path);
 * ```
 *
 * @module
 */

export {
  type FileReport,
  type HeaderReport,
  inspectArena,
  type InspectOptions,
  type InspectReport,
  type RegionReport,
  type SessionReport,
} from "./lib/tools/inspect.ts";
export { convertArena, type ConvertResult } from "./lib/tools/convert.ts";
