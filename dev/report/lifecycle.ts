/**
 * Report section "lifecycle": every path a service walks, at every size,
 * one sample per fresh process, the minimum of the repeats; per file (or
 * session) and the drift of that from 10k to the largest size, marked
 * above 1.3×.
 *
 * @module
 */

import { totalFiles } from "../../bench/lifecycle/shape.ts";
import { V3 } from "../../lib/format/v3.ts";
import { DRIFT_LIMIT, driftSizes, perUnit } from "./stats.ts";
import { fmtCount, fmtMarked, fmtNs, fmtRatio, fmtShort, table } from "./format.ts";
import {
  type Dimension,
  LIFECYCLE_ROWS,
  type LifecycleRow,
  runDimension,
  v3ShapeOf,
} from "./lifecycle_runs.ts";
import { SampleTable } from "./samples.ts";
import { repeatsFor, type ReportContext, type ReportSection } from "./section.ts";

/** Units (files or sessions) of `row` at `size`: convert runs sessions of 128 files. */
function unitsOf(row: LifecycleRow, size: number): number | undefined {
  if (row.row !== "convert") return size;
  const shape = v3ShapeOf(size);
  return shape && totalFiles(shape);
}

function cell(ctx: ReportContext, t: SampleTable, row: LifecycleRow, size: number) {
  const units = unitsOf(row, size);
  if (units === undefined) return `(over v3's ${fmtCount(V3.maxSessions * V3.maxFiles)} files)`;
  const min = t.min(row.row, size);
  if (min === undefined) return t.missing(row.row, size, ctx.options.timeoutS);
  const shown = units === size ? "" : `, ${fmtCount(units)} files`;
  return `${fmtNs(min)} (${fmtNs(perUnit(min, units))}${shown})`;
}

/** The drift of `row` per unit between the sizes that have a sample; marked over the limit. */
function drift(dim: Dimension, t: SampleTable, row: LifecycleRow): { text: string; over: boolean } {
  const timedOut = dim.sizes.find((s) => t.skips(row.row, s));
  if (timedOut !== undefined) {
    return { text: `**timed out at ${fmtShort(timedOut)}**`, over: true };
  }
  const sized = dim.sizes.filter((s) => t.min(row.row, s) !== undefined);
  const pair = driftSizes(sized);
  if (pair === undefined) return { text: "-", over: false };
  const per = (s: number) => perUnit(t.min(row.row, s)!, unitsOf(row, s)!);
  const r = per(pair.to) / per(pair.from);
  return {
    text: `${fmtMarked(r, DRIFT_LIMIT)} (${fmtShort(pair.to)} ÷ ${fmtShort(pair.from)})`,
    over: r > DRIFT_LIMIT,
  };
}

function render(ctx: ReportContext, dim: Dimension, t: SampleTable): string[] {
  const rows = LIFECYCLE_ROWS.filter((r) => dim.unit === "file" || r.row !== "convert");
  const over: string[] = [];
  const body = rows.map((row) => {
    const d = drift(dim, t, row);
    if (d.over) over.push(row.label);
    return [row.label, ...dim.sizes.map((s) => cell(ctx, t, row, s)), d.text];
  });
  const what = dim.unit === "file" ? "files in one session" : "sessions of one file";
  const header = ["path", ...dim.sizes.map((s) => `${fmtShort(s)} ${what}`), "drift per file"];
  if (dim.unit === "session") header[header.length - 1] = "drift per session";
  const repeats = [...new Set(dim.sizes.map((s) => repeatsFor(ctx.options, s >= 100_000)))];
  return [
    `### ${dim.unit === "file" ? "Files in one session" : "Sessions"}`,
    "",
    `Each cell: the minimum of ${repeats.join(" or ")} sample${
      repeats.length === 1 && repeats[0] === 1 ? "" : "s"
    }, total (per ${dim.unit}).`,
    "",
    table(header, body),
    "",
    over.length
      ? `Over ${fmtRatio(DRIFT_LIMIT)} (or timed out): ${over.join("; ")}.`
      : `No path drifts over ${fmtRatio(DRIFT_LIMIT)}.`,
    "",
  ];
}

const INTRO = [
  "A service's paths with the real memfd handler and 100-byte memory files: one session of N files,",
  "and N sessions of one file. Every sample is a fresh process (the successor maps the arena anew, as",
  "a real successor does); before its clock starts, it loads the native library and runs the same",
  "path on 1,024 files in a scratch arena, so that the code is compiled and the figures per file",
  "measure what grows with the files, not the process's cold start. The predecessor's image is reused",
  "by the successors that do not hand over (inspect, keep, close each, release); the second",
  "generation hands over from it and the third from that. Repeats are interleaved across sizes",
  "(round r runs every size once), so that a change of the machine's load during the run slows",
  "every size alike instead of inventing a drift.",
  "",
  "Drift: time per file (or session) at the largest size ÷ at 10k (or the smallest size when 10k is",
  `absent); goal at most ${
    fmtRatio(DRIFT_LIMIT)
  }. A sample running longer than the timeout is killed,`,
  "and its path is skipped at larger sizes.",
  "",
];

/** The lifecycle section. */
export const lifecycleSection: ReportSection = {
  id: "lifecycle",
  title: "Lifecycle paths, per file and per session",
  async run(ctx) {
    const lines = [...INTRO];
    const dims: Dimension[] = [
      { unit: "file", sizes: ctx.options.files },
      { unit: "session", sizes: ctx.options.sessions },
    ];
    for (const dim of dims) {
      const samples = new SampleTable();
      await runDimension(ctx, dim, samples);
      lines.push(...render(ctx, dim, samples));
    }
    return lines;
  },
};
