/**
 * Report section "keep-alive": retrieved files kept alive through finish
 * at 5k and at 20k files (open + retrieve all + keep + finish, a fresh
 * process per sample). A linear path costs the same per file at both; a
 * quadratic one four times as much at 20k. A ratio, not a timed test.
 *
 * @module
 */

import { KEEP_ALIVE_FILES } from "../../testing/bench_sizes.ts";
import { DRIFT_LIMIT, perUnit } from "./stats.ts";
import { fmtCount, fmtMarked, fmtNs, fmtRatio, table } from "./format.ts";
import { runKeepAlive } from "./lifecycle_runs.ts";
import { SampleTable } from "./samples.ts";
import type { ReportSection } from "./section.ts";

/** The keep-alive section. */
export const keepAliveSection: ReportSection = {
  id: "keep-alive",
  title: "Retrieved files kept alive through finish: 20k against 5k",
  async run(ctx) {
    const samples = new SampleTable();
    const [small, large] = KEEP_ALIVE_FILES;
    await runKeepAlive(ctx, KEEP_ALIVE_FILES, samples);
    const rows = KEEP_ALIVE_FILES.map((n) => {
      const min = samples.min("keep-finish", n);
      const all = samples.samples("keep-finish", n).map(fmtNs).join(", ");
      return min === undefined
        ? [fmtCount(n), samples.missing("keep-finish", n, ctx.options.timeoutS), "-", "-"]
        : [fmtCount(n), fmtNs(min), fmtNs(perUnit(min, n)), all];
    });
    const lo = samples.min("keep-finish", small);
    const hi = samples.min("keep-finish", large);
    const verdict = lo === undefined || hi === undefined
      ? "no ratio: a size has no sample"
      : `${fmtMarked(perUnit(hi, large) / perUnit(lo, small), DRIFT_LIMIT)} ` +
        `(linear: about 1; quadratic: about 4; marked over ${fmtRatio(DRIFT_LIMIT)})`;
    return [
      "One session; open + retrieve every file + keep them + finish, a fresh process per sample.",
      "",
      table(["files", "minimum", "per file", "every sample"], rows),
      "",
      `Per file, ${fmtCount(large)} ÷ ${fmtCount(small)}: ${verdict}.`,
      "",
    ];
  },
};
