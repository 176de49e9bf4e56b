/**
 * A path run once, untimed, on a small shape in a scratch arena before
 * the timed run, so that the timed run finds its code compiled: the
 * per-file figures then measure what grows with the files (the fresh
 * mapping of the real arena, page faults included), not the process's
 * cold start, which would otherwise inflate the small sizes and hide drift.
 *
 * @module
 */

import { removeIfPresent } from "../fixtures.ts";
import { buildV3, LIFECYCLE_PATHS, type PathName } from "./paths.ts";
import type { Shape } from "./shape.ts";
import { NO_SPAN } from "../span.ts";

/** Files (in all sessions) of a warm-up, at most. */
export const WARM_UP_FILES = 1024;

/** The shape of a warm-up for `shape`: the same files per session (up to 1024), fewer of them. */
export function warmUpShape(shape: Shape): Shape {
  const files = Math.min(shape.files, WARM_UP_FILES);
  const sessions = Math.max(1, Math.min(shape.sessions, Math.floor(WARM_UP_FILES / files)));
  return { sessions, files };
}

/** Runs path `name` on {@link warmUpShape} of `shape` in the arena at `scratch`, then removes it. */
export function warmUp(name: PathName, scratch: string, shape: Shape): void {
  const path = LIFECYCLE_PATHS[name];
  const small = warmUpShape(shape);
  try {
    if (path.needs === "image") LIFECYCLE_PATHS["preserve-handover"].run(scratch, small, NO_SPAN);
    if (path.needs === "v3") buildV3(scratch, small);
    path.run(scratch, small, NO_SPAN);
  } finally {
    removeIfPresent(scratch);
  }
}
