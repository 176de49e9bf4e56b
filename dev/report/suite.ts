/**
 * Sections made of a whole `deno bench` suite (warm, in one process): the
 * table of its benchmarks with their minimum and average per iteration and
 * the ratio of minimums to the suite's baseline. `suiteSection` makes one
 * from a bench file: the way to add a suite to the report in a few lines.
 *
 * @module
 */

import { BenchError } from "./errors.ts";
import { fmtNs, fmtRatio, table } from "./format.ts";
import type { ReportContext, ReportSection } from "./section.ts";

/** One benchmark of a suite. */
export interface SuiteResult {
  group: string | null;
  name: string;
  baseline: boolean;
  /** Nanoseconds per iteration. */
  avg: number;
  /** Nanoseconds per iteration, the fastest. */
  min: number;
}

interface BenchJson {
  benches: {
    group: string | null;
    name: string;
    baseline: boolean;
    results: { ok?: { avg: number; min: number } }[];
  }[];
}

/** Runs `deno bench --json file` (the big sizes with `--big`); its results in order. */
export async function runSuite(ctx: ReportContext, file: string): Promise<SuiteResult[]> {
  ctx.progress.note(`suite: deno bench ${file}`);
  const out = await ctx.children.run<BenchJson>({
    script: file,
    args: [],
    bench: true,
    env: { LUO_BENCH_BIG: ctx.options.big ? "1" : "0" },
  });
  if (out.status === "timed out") throw new BenchError(`deno bench ${file}: timed out`);
  return out.result.benches.flatMap((b) =>
    b.results.flatMap((r) =>
      r.ok ? [{ group: b.group, name: b.name, baseline: b.baseline, ...r.ok }] : []
    )
  );
}

/** N of a benchmark named `... [N]`, else undefined. */
function sizeOf(name: string): number | undefined {
  const m = name.match(/\[(\d+)\]$/);
  return m ? Number(m[1]) : undefined;
}

/**
 * The table of a suite: per group, ratios of minimums to the group's
 * baseline; when every benchmark is named `... [N]`, also its minimum ÷ N.
 */
export function suiteTable(results: SuiteResult[]): string {
  const base = new Map(results.filter((r) => r.baseline).map((r) => [r.group, r.min]));
  const perN = results.length > 0 && results.every((r) => sizeOf(r.name) !== undefined);
  return table(
    ["benchmark", "min", "average", "÷ baseline (min)", ...perN ? ["min ÷ N"] : []],
    results.map((r) => {
      const b = base.get(r.group);
      const row = [r.name, fmtNs(r.min), fmtNs(r.avg), b ? fmtRatio(r.min / b) : "-"];
      return perN ? [...row, fmtNs(r.min / sizeOf(r.name)!)] : row;
    }),
  );
}

/** A section that runs one bench file and shows its table under `intro`. */
export function suiteSection(
  spec: { id: string; title: string; file: string; intro: string[] },
): ReportSection {
  return {
    id: spec.id,
    title: spec.title,
    async run(ctx) {
      return [...spec.intro, "", suiteTable(await runSuite(ctx, spec.file)), ""];
    },
  };
}
