/**
 * `demo`: a live update end to end. Creates sessions of memfd files of
 * assorted sizes (one of 64 MiB), hands over, starts the successor as a
 * separate process that retrieves everything, verifies every byte and
 * finishes, and prints a summary table.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LiveUpdate, LiveUpdateError, MemFile } from "../mod.ts";
import { UsageError } from "./errors.ts";
import { PROG } from "./program.ts";
import { table } from "./table.ts";

/** Help of `demo`. */
export const DEMO_HELP = `usage: ${PROG} demo [--arena PATH] [--keep] [--json]

Runs a live update end to end: sessions of memfd files (one of 64 MiB) are
preserved and handed over; a separate successor process retrieves them,
verifies every byte, finishes them and reports.

  --arena PATH   arena file to create (default: a fresh file in the temp dir)
  --keep         leave the arena file for ${PROG} inspect
  --json         print the result as JSON`;

const MiB = 1 << 20;
/** Sessions and the sizes of their files. */
const PLAN: [string, number[]][] = [
  ["cache", [64 * MiB, 1 * MiB, 4096]],
  ["sessions", [100, 2000, 30_000, 0]],
  ["index", [8 * MiB + 12345]],
  ["empty", []],
];

/** Fills `b` with the pattern of file `seed` (also used to verify). */
function pattern(b: Uint8Array, seed: number): void {
  const whole = b.length >>> 2;
  const u32 = new Uint32Array(b.buffer, b.byteOffset, whole);
  for (let i = 0; i < whole; i++) u32[i] = Math.imul(i + seed, 2654435761) ^ seed;
  for (let i = whole * 4; i < b.length; i++) b[i] = (i * 7 + seed) & 0xff;
}

function matches(b: Uint8Array, seed: number): number {
  const want = new Uint8Array(b.length);
  pattern(want, seed);
  for (let i = 0; i < b.length; i++) if (b[i] !== want[i]) return i;
  return -1;
}

/** What the successor reports. */
interface SuccessorReport {
  sessions: number;
  files: number;
  bytes: number;
  restoreMs: number;
  verifyMs: number;
  mismatches: string[];
  pagesLeaked: number;
  liveupdateNumber: string;
}

/** What the predecessor did. */
interface Handed {
  path: string;
  sessions: number;
  files: number;
  handoverMs: number;
}

/** Creates the sessions of {@link PLAN} (a pattern in every file) and hands over. */
function predecessor(arenaPath: string | undefined, size: number): Handed {
  let luo: LiveUpdate;
  try {
    luo = LiveUpdate.create({ path: arenaPath, size });
  } catch (e) {
    if (e instanceof LiveUpdateError && e.code === "EEXIST") {
      throw new UsageError(`demo: --arena ${arenaPath} already exists; give a new path`);
    }
    throw e;
  }
  const path = luo.arena.path;
  try {
    let seed = 1;
    for (const [name, sizes] of PLAN) {
      const s = luo.createSession(name);
      for (const [j, n] of sizes.entries()) {
        const f = MemFile.create(luo.arena, n);
        if (n > 0) pattern(f.bytes(), seed);
        f.position = n >>> 1;
        s.preserve(f, j);
        seed++;
      }
    }
    const t0 = performance.now();
    const summary = luo.handover();
    return {
      path,
      sessions: summary.sessions,
      files: summary.files,
      handoverMs: performance.now() - t0,
    };
  } catch (e) {
    luo.close();
    throw e;
  }
}

/** Runs the successor as a separate process; its report, or null when it failed. */
async function successor(path: string, keep: boolean): Promise<SuccessorReport | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli.ts", import.meta.url).href,
      "__demo_successor",
      path,
      ...(keep ? ["keep"] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  try {
    const report = JSON.parse(text) as SuccessorReport;
    return out.code === 0 || report.mismatches.length ? report : null;
  } catch {
    console.error(`luo: demo: the successor failed (exit ${out.code}): ${text.trim()}`);
    return null;
  }
}

/** Prints the result as a table or JSON. */
function print(
  handed: Handed,
  report: SuccessorReport,
  values: { json?: boolean; keep?: boolean },
): void {
  const total = PLAN.reduce((a, [, sizes]) => a + sizes.reduce((x, y) => x + y, 0), 0);
  const result = {
    arena: values.keep ? handed.path : undefined,
    predecessorPid: Deno.pid,
    sessions: handed.sessions,
    files: handed.files,
    bytesHandedOver: total,
    handoverMs: round(handed.handoverMs),
    restoreMs: round(report.restoreMs),
    verifyMs: round(report.verifyMs),
    bytesVerified: report.bytes,
    mismatches: report.mismatches.length,
    pagesLeaked: report.pagesLeaked,
    liveupdateNumber: report.liveupdateNumber,
  };
  if (values.json) return console.log(JSON.stringify(result, null, 2));
  console.log(table(["what", "value"], [
    ["sessions", String(result.sessions)],
    ["files", String(result.files)],
    ["bytes handed over", `${total} (${(total / MiB).toFixed(1)} MiB)`],
    ["time to hand over", `${result.handoverMs} ms`],
    ["time to restore (successor)", `${result.restoreMs} ms`],
    ["bytes verified (successor)", `${report.bytes} in ${result.verifyMs} ms`],
    ["mismatches", String(result.mismatches)],
    ["pages leaked", String(result.pagesLeaked)],
    ["liveupdate-number", result.liveupdateNumber],
  ]));
  if (values.keep) {
    console.log(
      `arena kept at ${handed.path}: the successor handed the same files over again (${PROG} inspect ${handed.path})`,
    );
  }
}

/** Runs the demo; returns the exit code. */
export async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      arena: { type: "string" },
      keep: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const total = PLAN.reduce((a, [, sizes]) => a + sizes.reduce((x, y) => x + y, 0), 0);
  const handed = predecessor(values.arena, 2 ** Math.ceil(Math.log2(total * 2 + 16 * MiB)));
  try {
    const report = await successor(handed.path, !!values.keep);
    if (!report) return 1;
    print(handed, report, values);
    for (const m of report.mismatches.slice(0, 10)) console.error(`luo: demo: ${m}`);
    return report.mismatches.length === 0 && report.pagesLeaked === 0 ? 0 : 1;
  } finally {
    if (!values.keep) Deno.removeSync(handed.path);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Checks the retrieved files against {@link PLAN}; returns the bytes checked. */
function verify(files: MemFile[][], mismatches: string[]): { files: number; bytes: number } {
  let seed = 1;
  let count = 0;
  let bytes = 0;
  for (const [i, [name, sizes]] of PLAN.entries()) {
    const got = files[i];
    if (got.length !== sizes.length) {
      mismatches.push(`session ${name}: ${got.length} files, want ${sizes.length}`);
    }
    for (const [j, n] of sizes.entries()) {
      const f = got[j];
      if (!f) continue;
      count++;
      if (f.size !== n) mismatches.push(`${name}/${j}: size ${f.size}, want ${n}`);
      if (f.position !== n >>> 1) {
        mismatches.push(`${name}/${j}: position ${f.position}, want ${n >>> 1}`);
      }
      const at = f.size === n && n > 0 ? matches(f.bytes(), seed) : -1;
      if (at >= 0) mismatches.push(`${name}/${j}: byte ${at} differs`);
      bytes += f.size;
      seed++;
    }
  }
  return { files: count, bytes };
}

/** Pages in use that no retrieved file owns, once everything is finished and the image given up. */
function leakedPages(luo: LiveUpdate, files: MemFile[]): number {
  luo.discardIncoming();
  const owned = files.reduce((a, f) => a + f.extents.reduce((x, e) => x + e.pages, 0), 0);
  const info = luo.arena.info();
  return info.allocatedPages + info.handedOverPages + info.deferredPages - owned;
}

/** The successor: restores, verifies, finishes; prints a JSON report. */
export function demoSuccessor(path: string, keep: boolean): number {
  const mismatches: string[] = [];
  const t0 = performance.now();
  const luo = LiveUpdate.open(path);
  const sessions = PLAN.map(([name]) => luo.retrieveSession(name));
  const files = sessions.map((s) => s.tokens().map((t) => s.retrieve(t, MemFile)));
  const restoreMs = performance.now() - t0;
  const t1 = performance.now();
  const checked = verify(files, mismatches);
  const verifyMs = performance.now() - t1;
  const liveupdateNumber = String(luo.incomingNumber);
  // The retrieved files belong to this process now; any other page in use is a leak.
  for (const s of sessions) s.finish();
  const pagesLeaked = leakedPages(luo, files.flat());
  if (keep) {
    // Carry the same files, without copying, into the next generation so that
    // the arena left behind shows a handed-over state.
    for (const [i, [name]] of PLAN.entries()) {
      const s = luo.createSession(name);
      for (const [j, f] of files[i].entries()) s.preserve(f, j);
    }
    luo.handover();
  } else {
    for (const f of files.flat()) f.close();
    luo.close();
  }
  const report: SuccessorReport = {
    sessions: sessions.length,
    ...checked,
    restoreMs,
    verifyMs,
    mismatches,
    pagesLeaked,
    liveupdateNumber,
  };
  console.log(JSON.stringify(report));
  return mismatches.length ? 1 : 0;
}
