/**
 * The options of `./luo bench --report`, checked the way the command line
 * checks them: a bad value is a usage error (exit 2) that names the option
 * and what it accepts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../../cli/errors.ts";
import {
  fileCounts,
  MAX_BENCH_FILES,
  MAX_STATE_MIB,
  sessionCounts,
  stateMiB,
} from "../../testing/bench_sizes.ts";

/** The help text. */
export const BENCH_REPORT_HELP =
  `usage: ./luo bench --report [--big] [--out FILE] [--only IDS] [--repeats N]
                            [--timeout SECONDS] [--files LIST] [--sessions LIST] [--mib LIST]

Runs every benchmark section, one sample per fresh process where process
start matters, each repeated (the minimum is reported), and writes the
tables to bench/RESULTS.md. Progress goes to stderr.

  --big            the big sizes too: 1M files, 100k sessions, 1 GiB (long);
                   also with LUO_BENCH_BIG=1
  --out FILE       where to write (default bench/RESULTS.md; a run with
                   --only, --files, --sessions or --mib only prints unless
                   --out is given)
  --only IDS       only these sections, comma-separated (IDS below)
  --repeats N      samples of everything (default 5, 3 for large ones)
  --timeout S      a sample running longer is killed and reported as timed
                   out, and the path is not run at larger sizes (default 600)
  --files LIST     file counts of the lifecycle and entry sections (e.g. 1000,10000)
  --sessions LIST  session counts of the lifecycle section
  --mib LIST       state sizes of the cold-read section in MiB
  --quiet          no progress`;

/** The options of one run. */
export interface ReportOptions {
  /** Whether the big sizes run. */
  big: boolean;
  /** Where to write; undefined: print only. */
  out?: string;
  /** Ids of the sections to run (all when undefined). */
  only?: string[];
  /** Samples of everything, overriding the defaults. */
  repeats?: number;
  /** Seconds after which a sample is killed. */
  timeoutS: number;
  /** File counts. */
  files: number[];
  /** Session counts. */
  sessions: number[];
  /** State sizes in MiB. */
  mib: number[];
  /** No progress lines. */
  quiet: boolean;
  /** The command line, for the report's header. */
  commandLine: string;
}

/** An integer option in min..max. */
function int(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${value}"`);
  }
  return n;
}

/** A comma-separated list of integers in min..max, sorted, without duplicates. */
function list(name: string, value: string, min: number, max: number): number[] {
  const items = value.split(",");
  if (items.length > 16) throw new UsageError(`--${name}: at most 16 values`);
  const ns = items.map((v) => int(name, v.trim(), min, max));
  return [...new Set(ns)].sort((a, b) => a - b);
}

/** Parses the arguments after `bench --report`; `null` when `--help` was asked for. */
export function parseReportArgs(args: string[], sectionIds: string[]): ReportOptions | null {
  const { values } = parseArgs({
    args,
    options: {
      report: { type: "boolean" },
      big: { type: "boolean" },
      out: { type: "string" },
      only: { type: "string" },
      repeats: { type: "string" },
      timeout: { type: "string" },
      files: { type: "string" },
      sessions: { type: "string" },
      mib: { type: "string" },
      quiet: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) return null;
  const big = values.big ?? Deno.env.get("LUO_BENCH_BIG") === "1";
  const only = values.only?.split(",").map((s) => s.trim());
  for (const id of only ?? []) {
    if (!sectionIds.includes(id)) {
      throw new UsageError(`--only: no section "${id}" (sections: ${sectionIds.join(", ")})`);
    }
  }
  const partial = only !== undefined || values.files !== undefined ||
    values.sessions !== undefined || values.mib !== undefined;
  const defaultOut = new URL("../../bench/RESULTS.md", import.meta.url).pathname;
  return {
    big,
    out: values.out ?? (partial ? undefined : defaultOut),
    only,
    repeats: values.repeats === undefined ? undefined : int("repeats", values.repeats, 1, 100),
    timeoutS: values.timeout === undefined ? 600 : int("timeout", values.timeout, 1, 86_400),
    files: values.files === undefined
      ? fileCounts(big)
      : list("files", values.files, 1, MAX_BENCH_FILES),
    sessions: values.sessions === undefined
      ? sessionCounts(big)
      : list("sessions", values.sessions, 1, MAX_BENCH_FILES),
    mib: values.mib === undefined ? stateMiB(big) : list("mib", values.mib, 1, MAX_STATE_MIB),
    quiet: values.quiet ?? false,
    commandLine: ["./luo bench --report", ...args.filter((a) => a !== "--report")].join(" "),
  };
}
