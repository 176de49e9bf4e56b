// The lifecycle paths of a service (bench/lifecycle/paths.ts) in this one
// warm process: at FILE_COUNTS files in one session and SESSION_COUNTS
// sessions of one file, 100-byte memfds with the real handler; convert of a
// v3 image at its 128-file cap. Successor paths reuse one handed-over image
// per shape (they close without handing over; "generation" hands over the
// next one, of the same shape). `./luo bench --report` runs the same paths
// in a fresh process per sample instead, and prints the drift per file.
// Group "keep alive": retrieved files kept through finish at 5k and 20k
// files, where a quadratic path shows as a ratio of 4 per file.
import { V3 } from "../lib/format/v3.ts";
import {
  benchDir,
  FILE_COUNTS,
  iterationsFor,
  removeIfPresent,
  SESSION_COUNTS,
} from "./fixtures.ts";
import { KEEP_ALIVE_FILES } from "../testing/bench_sizes.ts";
import { buildV3, LIFECYCLE_PATHS, type PathName } from "./lifecycle/paths.ts";
import { type Shape, totalFiles } from "./lifecycle/shape.ts";
import { NO_SPAN } from "./span.ts";

const dir = benchDir("lifecycle");
let fresh = 0;
const freshPath = () => `${dir}/fresh-${fresh++}.arena`;
const images = new Map<string, string>();

/** The handed-over image of `shape`, made on first use (not timed). */
function imageOf(shape: Shape): string {
  const key = `${shape.sessions}x${shape.files}`;
  let path = images.get(key);
  if (path === undefined) {
    path = `${dir}/image-${key}.arena`;
    LIFECYCLE_PATHS["preserve-handover"].run(path, shape, NO_SPAN);
    images.set(key, path);
  }
  return path;
}

function benchPath(name: PathName, shape: Shape, group: string): void {
  const path = LIFECYCLE_PATHS[name];
  Deno.bench({
    name: `${path.label} [${shape.sessions} x ${shape.files}]`,
    group,
    ...iterationsFor(totalFiles(shape)),
    fn(b) {
      if (path.needs === "image") return path.run(imageOf(shape), shape, b);
      const arena = freshPath();
      if (path.needs === "v3") buildV3(arena, shape);
      try {
        path.run(arena, shape, b);
      } finally {
        removeIfPresent(arena);
      }
    },
  });
}

const IMAGE_PATHS: PathName[] = [
  "preserve-handover",
  "preserve-close",
  "inspect",
  "keep-finish",
  "close-each",
  "release",
  "generation",
];

for (const files of FILE_COUNTS) {
  for (const name of IMAGE_PATHS) benchPath(name, { sessions: 1, files }, `${files} files`);
  const sessions = Math.ceil(files / V3.maxFiles);
  if (sessions <= V3.maxSessions) {
    benchPath("convert", { sessions, files: V3.maxFiles }, `${files} files`);
  }
}
for (const sessions of SESSION_COUNTS) {
  for (const name of IMAGE_PATHS) benchPath(name, { sessions, files: 1 }, `${sessions} sessions`);
}
for (const files of KEEP_ALIVE_FILES) {
  benchPath("keep-finish", { sessions: 1, files }, "keep alive");
}
