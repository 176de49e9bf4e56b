/**
 * The start of a service (`LiveUpdate.start`): open the arena when the file
 * exists, create it when it does not (atomically), and otherwise throw
 * without touching the file; an image that cannot be read is refused or,
 * on request, moved aside (renamed, never deleted).
 *
 * @module
 */

import { LiveUpdateError, LuoError, typeOf } from "../errors.ts";
import { withPermission } from "../kho/permission.ts";
import type { StartOptions } from "./options.ts";

/** What `start` needs of a live update, without importing the class (no cycle). */
export interface Startable {
  /** Reads the incoming image now (throws when it cannot be used). */
  loadIncoming(): void;
  /** Closes it without a handover. */
  close(): void;
  /** Set on the fresh live update that replaced a damaged arena. */
  movedAside?: string;
}

/** How `start` creates and opens (the LiveUpdate constructors). */
export interface Starters<T extends Startable> {
  create(path: string, options: StartOptions): T;
  open(path: string, options: StartOptions): T;
}

/** Codes of an arena file whose contents cannot be used (as opposed to held, denied, newer). */
const DAMAGED = new Set(["EBADMSG", "ENOEXEC", "EIO"]);

/** Throws `EINVAL` for a path that is not a non-empty string or options of the wrong kind. */
function checkStart(path: unknown, options: StartOptions): void {
  if (typeof path !== "string" || path.length === 0) {
    throw new LuoError(
      "EINVAL",
      `start: the arena path must be a non-empty string, got ${typeOf(path)}`,
    );
  }
  if (
    options.damaged !== undefined && options.damaged !== "refuse" &&
    options.damaged !== "move-aside"
  ) {
    throw new LuoError(
      "EINVAL",
      `start: damaged must be "refuse" or "move-aside", got ${JSON.stringify(options.damaged)}`,
    );
  }
}

/**
 * Opens, or creates, the arena at `path` (see `LiveUpdate.start`). Of
 * concurrent starters exactly one creates the file; the others open it or
 * find it held (`EBUSY`).
 */
export function startAt<T extends Startable>(
  path: string,
  options: StartOptions,
  make: Starters<T>,
): T {
  checkStart(path, options);
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      return make.create(path, options);
    } catch (e) {
      if (!(e instanceof LiveUpdateError) || e.code !== "EEXIST") throw e;
    }
    let opened: T;
    try {
      opened = make.open(path, options);
    } catch (e) {
      if (e instanceof LiveUpdateError && e.code === "ENOENT") continue; // gone again: retry
      if (!(e instanceof LiveUpdateError) || !DAMAGED.has(e.code)) throw e;
      return damaged(path, options, make, e);
    }
    try {
      opened.loadIncoming();
      return opened;
    } catch (e) {
      opened.close();
      if (!(e instanceof LiveUpdateError)) throw e;
      return damaged(path, options, make, e);
    }
  }
  throw new LuoError("EBUSY", `start ${path}: the file keeps appearing and disappearing`);
}

/** An arena whose image cannot be used: refused, or renamed aside and started again. */
function damaged<T extends Startable>(
  path: string,
  options: StartOptions,
  make: Starters<T>,
  cause: LiveUpdateError,
): T {
  if (options.damaged !== "move-aside") {
    throw new LuoError(
      "EIO",
      `start ${path}: the handed-over image cannot be used (the file was left as it is; ` +
        `start with damaged: "move-aside" to keep it aside and start empty): ${cause.message}`,
      { cause },
    );
  }
  const aside = `${path}.damaged-${Date.now()}-${Deno.pid}`;
  try {
    withPermission(`moving the damaged arena ${path} aside`, () => Deno.renameSync(path, aside));
  } catch (e) {
    // Another starter moved it first: start again (it created or will create the new one).
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return startAt(path, { ...options, damaged: "refuse" }, make);
  }
  const fresh = startAt(path, { ...options, damaged: "refuse" }, make);
  fresh.movedAside = aside;
  return fresh;
}
