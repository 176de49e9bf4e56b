/**
 * One sample of one lifecycle path in this process, as the report runs it
 * (a fresh process per sample: the successor maps the arena anew, as a
 * real successor does). The native library is loaded and the path is run
 * once on a small scratch arena (`FILE.warm-up`) before the clock starts,
 * unless `--cold`. Prints one JSON line:
 * `{"path": ..., "sessions": S, "files": F, "ns": <the path's span>}`.
 *
 *   deno run -A bench/lifecycle/child.ts PATH --arena FILE --sessions S --files F [--cold]
 *
 * PATH is a name of `LIFECYCLE_PATHS`, or `v3-build` (writes the v3 image
 * `convert` needs). Exit 2 on a usage error, 1 when the path fails.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { MAX_BENCH_FILES } from "../../testing/bench_sizes.ts";
import { type Command, printResult, requiredInt, requiredString, runChild } from "../child_args.ts";
import { loadNativeLibraryNow } from "../fixtures.ts";
import { Stopwatch, timeNs } from "../span.ts";
import { buildV3, LIFECYCLE_PATHS, type PathName } from "./paths.ts";
import type { Shape } from "./shape.ts";
import { warmUp } from "./warm_up.ts";

const OPTIONS = `--arena FILE --sessions S --files F [--cold]`;

function parse(args: string[]): { arena: string; shape: Shape; cold: boolean } {
  const { values } = parseArgs({
    args,
    options: {
      arena: { type: "string" },
      sessions: { type: "string" },
      files: { type: "string" },
      cold: { type: "boolean" },
    },
  });
  const sessions = requiredInt("sessions", values.sessions, 1, MAX_BENCH_FILES);
  const files = requiredInt("files", values.files, 1, MAX_BENCH_FILES);
  const arena = requiredString("arena", values.arena);
  return { arena, shape: { sessions, files }, cold: values.cold ?? false };
}

function pathCommand(name: PathName): Command {
  const path = LIFECYCLE_PATHS[name];
  return {
    help: `usage: child.ts ${name} ${OPTIONS}\n\n${path.label}; prints {"ns": ...}`,
    run(args) {
      const { arena, shape, cold } = parse(args);
      loadNativeLibraryNow();
      if (!cold) warmUp(name, `${arena}.warm-up`, shape);
      const span = new Stopwatch();
      path.run(arena, shape, span);
      printResult({ path: name, ...shape, ns: span.ns });
      return 0;
    },
  };
}

const COMMANDS: Record<string, Command> = Object.fromEntries(
  (Object.keys(LIFECYCLE_PATHS) as PathName[]).map((name) => [name, pathCommand(name)]),
);
COMMANDS["v3-build"] = {
  help:
    `usage: child.ts v3-build ${OPTIONS}\n\nwrites a v3 image of memfd-v1 files (setup of convert)`,
  run(args) {
    const { arena, shape } = parse(args);
    printResult({ path: "v3-build", ...shape, ns: timeNs(() => buildV3(arena, shape)) });
    return 0;
  },
};

const USAGE = `usage: child.ts PATH ${OPTIONS}

PATH: ${Object.keys(COMMANDS).join(", ")}`;

await runChild(COMMANDS, USAGE);
