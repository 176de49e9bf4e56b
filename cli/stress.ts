/**
 * `stress stage1|stage2`: the two-stage shape of the kernel's stress
 * selftests. Sessions `stress-<i>` (i < S), each with F memfd files of
 * tokens j < F holding the ASCII text `file-data-<i>-<j>`. stage1 preserves
 * and hands over; stage2 (a new process) retrieves, verifies byte for byte,
 * finishes, and checks that no page is left in use.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LiveUpdate, MemFile } from "../mod.ts";
import { PAGE_SIZE } from "../kho.ts";
import { Progress } from "./progress.ts";
import { positiveInt, UsageError } from "./errors.ts";
import { joinNegativeValues } from "./args.ts";
import { PROG } from "./program.ts";

/** Help of `stress`. */
export const STRESS_HELP =
  `usage: ${PROG} stress stage1|stage2 --arena PATH [--sessions S] [--files F] [--json] [--quiet]

  stage1   create sessions stress-<i> with F memfd files each (tokens 0..F-1,
           contents "file-data-<i>-<j>"), preserve them and hand over
  stage2   in a new process: retrieve every session and file, verify every
           byte, finish them all, check that no page is left in use

  --arena PATH     the arena file (stage1 creates it; it must not exist)
  --sessions S     number of sessions (default 10)
  --files F        files per session (default 10)
  --json           print the result as JSON
  --quiet          no progress on stderr
  --poison         stage2: poison every page that was not preserved`;

/** Result of a stage. */
export interface StressResult {
  stage: string;
  sessions: number;
  files: number;
  seconds: number;
  liveupdateNumber: string;
  pagesInUse?: number;
  mismatches?: number;
}

const enc = new TextEncoder();

/** Contents of file j of session i. */
export function stressData(i: number, j: number): Uint8Array {
  return enc.encode(`file-data-${i}-${j}`);
}

/**
 * Arena size for S sessions of F small memfd files: a data page each, their
 * memfd-v2 descriptors (32 per page), the file and session blocks, the
 * preserved-memory map (254 regions per block), and 16 MiB of slack;
 * rounded up to a MiB.
 */
export function stressArenaSize(sessions: number, files: number): number {
  const n = sessions * files;
  const pages = n + Math.ceil(n / 32) + sessions * (2 * Math.ceil(files / 127) + 1) +
    Math.ceil((n + n / 32 + sessions) / 254) + 4096;
  const MiB = 1 << 20;
  return Math.ceil((pages * PAGE_SIZE) / MiB) * MiB;
}

/** Runs a stage; returns the result (mismatches > 0 means failure). */
export function runStress(args: string[]): StressResult | null {
  const { values, positionals } = parseArgs({
    args: joinNegativeValues(args, ["arena", "sessions", "files"]),
    allowPositionals: true,
    options: {
      arena: { type: "string" },
      sessions: { type: "string" },
      files: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      poison: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(STRESS_HELP);
    return null;
  }
  const stage = positionals[0];
  if (stage !== "stage1" && stage !== "stage2") {
    throw new UsageError(`stress: stage must be stage1 or stage2, got "${stage ?? ""}"`);
  }
  if (!values.arena) throw new UsageError("stress: --arena PATH is required");
  const S = positiveInt("sessions", values.sessions, 10, 0);
  const F = positiveInt("files", values.files, 10, 0);
  const t0 = performance.now();
  const result = stage === "stage1"
    ? stage1(values.arena, S, F, !!values.quiet)
    : stage2(values.arena, S, F, !!values.quiet, !!values.poison);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

function stage1(path: string, S: number, F: number, quiet: boolean): StressResult {
  const luo = LiveUpdate.create({ path, size: stressArenaSize(S, F) });
  const p = new Progress("stage1: preserve", S, quiet);
  for (let i = 0; i < S; i++) {
    const s = luo.createSession(`stress-${i}`);
    for (let j = 0; j < F; j++) s.preserve(MemFile.from(luo.arena, stressData(i, j)), BigInt(j));
    p.tick(i + 1);
  }
  p.done();
  const summary = luo.handover();
  return {
    stage: "stage1",
    sessions: S,
    files: S * F,
    seconds: 0,
    liveupdateNumber: String(summary.liveupdateNumber),
  };
}

function stage2(path: string, S: number, F: number, quiet: boolean, poison: boolean): StressResult {
  using luo = LiveUpdate.open(path, { poison });
  let mismatches = 0;
  const report = (msg: string) => {
    if (mismatches++ < 10) console.error(`stage2: ${msg}`);
  };
  const names = new Set(luo.incomingSessions());
  if (names.size !== S) report(`${names.size} incoming sessions, want ${S}`);
  const p = new Progress("stage2: verify", S, quiet);
  for (let i = 0; i < S; i++) {
    const name = `stress-${i}`;
    if (!names.has(name)) {
      report(`session ${name} missing`);
      continue;
    }
    const s = luo.retrieveSession(name);
    if (s.fileCount !== F) report(`${name}: ${s.fileCount} files, want ${F}`);
    const tokens = new Set(s.tokens());
    for (let j = 0; j < F; j++) {
      if (!tokens.has(BigInt(j))) {
        report(`${name} token ${j}: missing`);
        continue;
      }
      const f = s.retrieve(BigInt(j), MemFile);
      const want = stressData(i, j);
      const got = f.bytes();
      if (got.length !== want.length || !got.every((b, k) => b === want[k])) {
        report(
          `${name} token ${j}: "${new TextDecoder().decode(got)}" != "${
            new TextDecoder().decode(want)
          }"`,
        );
      }
      f.close();
    }
    s.finish();
    p.tick(i + 1);
  }
  p.done();
  const number = luo.incomingNumber;
  // Give the predecessor's image up: its pages are parked until then.
  luo.discardIncoming();
  const info = luo.arena.info();
  const pagesInUse = info.allocatedPages + info.handedOverPages + info.deferredPages;
  if (pagesInUse !== 0) report(`${pagesInUse} pages still in use after finishing everything`);
  return {
    stage: "stage2",
    sessions: S,
    files: S * F,
    seconds: 0,
    liveupdateNumber: String(number),
    pagesInUse,
    mismatches,
  };
}

/** `stress`: runs a stage and prints its result; returns the exit code. */
export function printStress(args: string[]): number {
  const r = runStress(args);
  if (!r) return 0;
  if (args.includes("--json")) console.log(JSON.stringify(r));
  else {
    const extra = r.mismatches !== undefined
      ? `, mismatches ${r.mismatches}, pages in use ${r.pagesInUse}`
      : "";
    console.log(
      `${r.stage}: ${r.sessions} sessions, ${r.files} files, ${r.seconds.toFixed(2)} s, ` +
        `liveupdate-number ${r.liveupdateNumber}${extra}`,
    );
  }
  return r.mismatches ? 1 : 0;
}
