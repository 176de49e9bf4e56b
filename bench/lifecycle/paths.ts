/**
 * The paths of a service's life that the lifecycle benchmarks time, each
 * over one arena and one {@link Shape}, with the real memfd handler. Every
 * path times exactly one span (`span.start()` .. `span.end()`), so that the
 * same code runs under `Deno.bench` (the span is its `BenchContext`) and in
 * a fresh process per sample (`child.ts`, a stopwatch). Every path checks
 * what it did (counts, sizes) after its span, and throws when it differs.
 *
 * Successor paths open the arena and close it without handing over: the
 * predecessor's image stays published, so the next sample finds it again.
 *
 * @module
 */

import {
  type IncomingSession,
  LiveUpdate,
  LuoError,
  MemFile,
  type OutgoingSession,
} from "../../mod.ts";
import { convertArena, inspectArena } from "../../tools.ts";
import { V3 } from "../../lib/format/v3.ts";
import { writeV3Image } from "../../testing/v3_image.ts";
import type { Span } from "../span.ts";
import {
  FILE_BYTES,
  fileBody,
  lifecycleArenaSize,
  sessionName,
  type Shape,
  totalFiles,
} from "./shape.ts";

/** One path: what it needs in the arena before it runs, and the code. */
export interface LifecyclePath {
  /** What the report calls it. */
  label: string;
  /**
   * What must be in the arena first: `"none"` (the path creates it; it must
   * not exist), `"image"` (a handed-over image of the shape), `"v3"` (a v3
   * image written by {@link buildV3}).
   */
  needs: "none" | "image" | "v3";
  /** Runs the path once over the arena at `path`. */
  run(path: string, shape: Shape, span: Span): void;
}

function expectCount(what: string, got: number, want: number): void {
  if (got !== want) throw new LuoError("EBADMSG", `${what}: ${got}, expected ${want}`);
}

/** Creates the shape's memory files in `luo`'s arena (not timed by any path). */
function createFiles(luo: LiveUpdate, shape: Shape): MemFile[][] {
  const all: MemFile[][] = [];
  for (let i = 0; i < shape.sessions; i++) {
    const files: MemFile[] = [];
    for (let j = 0; j < shape.files; j++) files.push(MemFile.from(luo.arena, fileBody(i, j)));
    all.push(files);
  }
  return all;
}

/** Preserves `files[i][j]` in session `s<i>` under token j. */
function preserveAll(luo: LiveUpdate, files: MemFile[][]): OutgoingSession[] {
  return files.map((inSession, i) => {
    const s = luo.createSession(sessionName(i));
    for (let j = 0; j < inSession.length; j++) s.preserve(inSession[j], BigInt(j));
    return s;
  });
}

/** Retrieves every session of the shape and every file in it, keeping them. */
function retrieveAll(luo: LiveUpdate, shape: Shape) {
  const sessions: IncomingSession[] = [];
  const files: MemFile[][] = [];
  for (let i = 0; i < shape.sessions; i++) {
    const s = luo.retrieveSession(sessionName(i));
    const inSession: MemFile[] = [];
    for (let j = 0; j < shape.files; j++) inSession.push(s.retrieve(BigInt(j), MemFile));
    sessions.push(s);
    files.push(inSession);
  }
  return { sessions, files };
}

/** Checks that every kept file still has its size and first byte. */
function checkKept(files: MemFile[][]): void {
  for (const [i, inSession] of files.entries()) {
    for (const [j, f] of inSession.entries()) {
      expectCount(`session ${i} file ${j} size`, f.size, FILE_BYTES);
      expectCount(`session ${i} file ${j} first byte`, f.read(0, 1)[0], fileBody(i, j)[0]);
    }
  }
}

function preserveHandover(path: string, shape: Shape, span: Span): void {
  const luo = LiveUpdate.create({ path, size: lifecycleArenaSize(shape) });
  const files = createFiles(luo, shape);
  span.start();
  preserveAll(luo, files);
  const summary = luo.handover();
  span.end();
  expectCount("files handed over", summary.files, totalFiles(shape));
}

function preserveClose(path: string, shape: Shape, span: Span): void {
  const luo = LiveUpdate.create({ path, size: lifecycleArenaSize(shape) });
  try {
    const files = createFiles(luo, shape);
    span.start();
    const sessions = preserveAll(luo, files);
    for (const s of sessions) s.close();
    span.end();
    expectCount("sessions left", luo.sessions().length, 0);
    for (const f of files.flat()) f.close();
  } finally {
    luo.close();
    Deno.removeSync(path);
  }
}

function keepFinish(path: string, shape: Shape, span: Span): void {
  span.start();
  const luo = LiveUpdate.open(path);
  const { sessions, files } = retrieveAll(luo, shape);
  for (const s of sessions) s.finish();
  span.end();
  checkKept(files);
  luo.close();
}

function closeEach(path: string, shape: Shape, span: Span): void {
  span.start();
  const luo = LiveUpdate.open(path);
  for (let i = 0; i < shape.sessions; i++) {
    const s = luo.retrieveSession(sessionName(i));
    for (let j = 0; j < shape.files; j++) s.retrieve(BigInt(j), MemFile).close();
    s.finish();
  }
  span.end();
  expectCount("incoming sessions left", luo.incomingSessions().length, 0);
  luo.close();
}

function release(path: string, shape: Shape, span: Span): void {
  span.start();
  const luo = LiveUpdate.open(path);
  const summary = luo.releaseUnclaimed();
  span.end();
  expectCount("sessions released", summary.sessions.length, shape.sessions);
  expectCount("errors while releasing", summary.errors.length, 0);
  luo.close();
}

function generation(path: string, shape: Shape, span: Span): void {
  span.start();
  const luo = LiveUpdate.open(path);
  const { sessions, files } = retrieveAll(luo, shape);
  for (const s of sessions) s.finish();
  preserveAll(luo, files);
  const summary = luo.handover();
  span.end();
  expectCount("files handed over again", summary.files, totalFiles(shape));
}

function inspect(path: string, shape: Shape, span: Span): void {
  span.start();
  const report = inspectArena(path);
  span.end();
  if (report.error) throw new LuoError("EBADMSG", `inspect ${path}: ${report.error.message}`);
  const files = (report.sessions ?? []).reduce((n, s) => n + s.files.length, 0);
  expectCount("files inspected", files, totalFiles(shape));
}

/**
 * Writes a v3 image of the shape (at most {@link V3.maxFiles} files per
 * session) with memfd-v1 files into a new arena at `path` (setup of
 * `convert`, not timed).
 */
export function buildV3(path: string, shape: Shape): void {
  if (shape.files > V3.maxFiles || shape.sessions > V3.maxSessions) {
    throw new LuoError(
      "EINVAL",
      `v3 holds at most ${V3.maxSessions} sessions of ${V3.maxFiles} files, ` +
        `not ${shape.sessions} of ${shape.files}`,
    );
  }
  const sessions = Array.from({ length: shape.sessions }, (_, i) => ({
    name: sessionName(i),
    files: Array.from({ length: shape.files }, (_, j) => ({
      token: BigInt(j),
      bytes: fileBody(i, j),
    })),
  }));
  writeV3Image(path, sessions);
}

function convert(path: string, shape: Shape, span: Span): void {
  span.start();
  const r = convertArena(path);
  span.end();
  expectCount("files converted", r.memfdConverted, totalFiles(shape));
  if (r.to !== "luo-session-v4") throw new LuoError("EBADMSG", `convert wrote ${r.to}`);
}

/** Every path, by the name the child process and the report use. */
export const LIFECYCLE_PATHS = {
  "preserve-handover": { label: "preserve + hand over", needs: "none", run: preserveHandover },
  "preserve-close": {
    label: "preserve, then close the outgoing session",
    needs: "none",
    run: preserveClose,
  },
  inspect: { label: "inspect the arena", needs: "image", run: inspect },
  "keep-finish": {
    label: "open + retrieve all + keep + finish",
    needs: "image",
    run: keepFinish,
  },
  "close-each": {
    label: "open + retrieve all + close each + finish",
    needs: "image",
    run: closeEach,
  },
  release: { label: "open + release never-retrieved sessions", needs: "image", run: release },
  generation: {
    label: "open + retrieve all + finish + preserve again + hand over",
    needs: "image",
    run: generation,
  },
  convert: {
    label: "convert a v3 image (128 memfd-v1 files per session)",
    needs: "v3",
    run: convert,
  },
} as const satisfies Record<string, LifecyclePath>;

/** The name of a path. */
export type PathName = keyof typeof LIFECYCLE_PATHS;
