/**
 * Tools to look inside arenas and to read previous formats: inspect an
 * arena (as a report object, rendered by the CLI as a tree or JSON) and
 * convert a `luo-session-v3` image to v4 in place.
 *
 * @example
 * ```ts ignore
 * import { convertArena, inspectArena } from "@luo/live-update/tools";
 * const report = inspectArena("/dev/shm/my-service/state.arena");
 * console.log(report.liveupdateNumber, report.sessions?.length);
 * if (report.format === "luo-session-v3") convertArena(report.path);
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
