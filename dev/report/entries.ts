/**
 * Report section "entries": serialize and deserialize of N bare entries
 * against a copy of the same bytes, on a stable footing: the copy is
 * repeated in several processes and its minimum taken (its spread is
 * shown); deserialize includes open and every retrieve, with the
 * validation alone beside it; serialize includes preserve.
 *
 * @module
 */

import { fileBlockBytes } from "../../bench/fixtures.ts";
import { DRIFT_LIMIT, driftSizes, perUnit, spreadOf } from "./stats.ts";
import { fmtCount, fmtMarked, fmtNs, fmtRatio, fmtShort, table } from "./format.ts";
import { COPY_ROUNDS, runEntries } from "./entries_runs.ts";
import { SampleTable } from "./samples.ts";
import type { ReportContext, ReportSection } from "./section.ts";

/** Goal of deserialize ÷ memcpy (issue 12, item 3). */
const COPY_GOAL = 5;
/** A baseline that repeats within this (10%) is stable. */
const STABLE_SPREAD = 0.1;

type Cells = (n: number) => string[];

function tableOf(ctx: ReportContext, t: SampleTable, header: string[], cells: Cells): string {
  const rows = ctx.options.files.map((n) => {
    if (t.min("memcpy", n) === undefined || t.min("deserialize", n) === undefined) {
      const why = t.missing("deserialize", n, ctx.options.timeoutS);
      return [fmtCount(n), why, ...header.slice(2).map(() => "-")];
    }
    return [fmtCount(n), ...cells(n)];
  });
  return table(header, rows);
}

function ratioCells(t: SampleTable, n: number, row: string, goal?: number): string[] {
  const min = t.min(row, n)!;
  const r = min / t.min("memcpy", n)!;
  return [fmtNs(min), goal ? fmtMarked(r, goal) : fmtRatio(r), fmtNs(perUnit(min, n))];
}

function baseline(ctx: ReportContext, t: SampleTable): string[] {
  const header = ["N", "bytes copied", "memcpy (min)", "max", "spread", "Uint8Array.set (min)"];
  return [
    `Baseline: one copy of the N entries' file blocks (N/127 blocks of 8192 bytes) over pages already`,
    `touched, in separate processes, each the minimum of ${COPY_ROUNDS} rounds; the minimum of those is`,
    `the baseline. A spread over ${STABLE_SPREAD * 100}% is marked.`,
    "",
    tableOf(ctx, t, header, (n) => {
      const s = t.samples("memcpy", n);
      const spread = spreadOf(s);
      const shown = `${(spread * 100).toFixed(1)}%`;
      return [
        fmtCount(fileBlockBytes(n)),
        fmtNs(t.min("memcpy", n)!),
        fmtNs(Math.max(...s)),
        spread > STABLE_SPREAD ? `**${shown}**` : shown,
        fmtNs(t.min("set", n)!),
      ];
    }),
    "",
  ];
}

function driftLine(ctx: ReportContext, t: SampleTable, row: string, what: string): string {
  const pair = driftSizes(ctx.options.files.filter((n) => t.min(row, n) !== undefined));
  if (!pair) return `- ${what}: no drift (fewer than two sizes)`;
  const per = (n: number) => perUnit(t.min(row, n)!, n);
  const r = per(pair.to) / per(pair.from);
  return `- ${what}: ${fmtMarked(r, DRIFT_LIMIT)} (${fmtShort(pair.to)} ÷ ${fmtShort(pair.from)})`;
}

/** Where deserialize stands against the goal at 100k files and more, fresh and warm. */
function goalLines(ctx: ReportContext, t: SampleTable): string[] {
  return [["deserialize", "fresh process"], ["warm-deserialize", "warm process"]].map(
    ([row, how]) => {
      const at = ctx.options.files.filter((n) => n >= 100_000 && t.min(row, n) !== undefined);
      const parts = at.map((n) => {
        const r = t.min(row, n)! / t.min("memcpy", n)!;
        return `${fmtShort(n)}: ${fmtMarked(r, COPY_GOAL)}`;
      });
      return `- open + validate + retrieve all, ${how}: ${parts.join(", ") || "not run"}`;
    },
  );
}

function render(ctx: ReportContext, t: SampleTable): string[] {
  const per = ["÷ memcpy", "per file"];
  return [
    ...baseline(ctx, t),
    "Deserialize, a fresh successor process per sample (its code cold): open + validate + retrieve",
    "every file, and the validation alone (the incoming image read, between open and the first",
    `retrieve). Marked over ${
      fmtRatio(COPY_GOAL)
    } memcpy at 100k files and more (the goal; below, a`,
    "process's fixed costs outweigh a copy of a few kilobytes).",
    "",
    tableOf(
      ctx,
      t,
      ["N", "open + validate + retrieve all", ...per, "validate alone", ...per],
      (n) => [
        ...ratioCells(t, n, "deserialize", n >= 100_000 ? COPY_GOAL : undefined),
        ...ratioCells(t, n, "validate"),
      ],
    ),
    "",
    `The same in a warm process (the minimum of rounds 2 and later of each successor):`,
    "",
    tableOf(
      ctx,
      t,
      ["N", "open + validate + retrieve all", ...per, "validate alone", ...per],
      (n) => [
        ...ratioCells(t, n, "warm-deserialize", n >= 100_000 ? COPY_GOAL : undefined),
        ...ratioCells(t, n, "warm-validate"),
      ],
    ),
    "",
    "Serialize, a fresh process per sample (after the same on 1,024 entries, untimed, so that the",
    "code is compiled): preserve + hand over, and the handover alone.",
    "",
    tableOf(
      ctx,
      t,
      ["N", "preserve + hand over", ...per, "hand over alone", ...per],
      (n) => [...ratioCells(t, n, "preserve-handover"), ...ratioCells(t, n, "handover")],
    ),
    "",
    `Deserialize ÷ memcpy at 100k files and more (goal at most ${fmtRatio(COPY_GOAL)}):`,
    "",
    ...goalLines(ctx, t),
    "",
    `Drift per file (goal at most ${fmtRatio(DRIFT_LIMIT)}):`,
    "",
    driftLine(ctx, t, "deserialize", "open + validate + retrieve all, fresh"),
    driftLine(ctx, t, "validate", "validate alone, fresh"),
    driftLine(ctx, t, "warm-deserialize", "open + validate + retrieve all, warm"),
    driftLine(ctx, t, "warm-validate", "validate alone, warm"),
    driftLine(ctx, t, "preserve-handover", "preserve + hand over"),
    driftLine(ctx, t, "memcpy", "memcpy (for comparison)"),
    "",
  ];
}

/** The entries section. */
export const entriesSection: ReportSection = {
  id: "entries",
  title: "Serialize and deserialize of N entries against memcpy",
  async run(ctx) {
    const samples = new SampleTable();
    await runEntries(ctx, samples);
    return [
      "One session of N files whose handler keeps nothing but the 64-byte entry (the LUO layer is what",
      "is measured). The native library is loaded before the clock starts.",
      "",
      ...render(ctx, samples),
    ];
  },
};
