/**
 * The PreservedMap section of the report: `dev/kvmap_report.ts` (also
 * runnable alone, rewriting only its part of bench/RESULTS.md) as one
 * report section.
 *
 * @module
 */

import { kvmapSection } from "../kvmap_report.ts";
import type { ReportSection } from "./section.ts";

/** The map section: get/set against a JS Map and Deno KV, the upgrade against node:v8 and Deno KV. */
export const kvmapReportSection: ReportSection = {
  id: "kvmap",
  title: "PreservedMap (kvmap-v1): a map that survives upgrades",
  async run(ctx) {
    ctx.progress.note("kvmap: get/set and the upgrade at 10k..1M keys");
    const lines = await kvmapSection(ctx.options.big);
    // Its own markers and heading are for the standalone run: the report adds the heading.
    return lines.filter((l) => !l.startsWith("<!--") && !l.startsWith("## PreservedMap"));
  },
};
