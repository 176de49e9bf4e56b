/**
 * Running the entry benchmarks (bench/deserialize/child.ts), one sample
 * per fresh process: the copy baseline in several processes (each the
 * minimum of many rounds), then per repeat a new image of N bare entries
 * (preserve + hand over) and a successor that opens it, validates it and
 * retrieves every file (cold), then does it again warm.
 *
 * @module
 */

import { removeIfPresent } from "../../bench/fixtures.ts";
import { fmtCount, fmtNs } from "./format.ts";
import type { SampleTable } from "./samples.ts";
import { interleaved, recording, type ReportContext } from "./section.ts";

/** Rows of the entry tables. */
export const ENTRY_ROWS = [
  "memcpy",
  "set",
  "preserve-handover",
  "handover",
  "deserialize",
  "validate",
  "warm-deserialize",
  "warm-validate",
] as const;

/** Rounds of one copy process (its minimum is one sample). */
export const COPY_ROUNDS = 30;
/** Rounds of one successor process: the first is cold, the minimum of the rest is warm. */
export const RESTORE_ROUNDS = 5;

const CHILD = "bench/deserialize/child.ts";

interface Restore {
  openNs: number;
  validateNs: number;
  retrieveNs: number;
}

/** Runs a child; on a timeout or a failure every row stops at this size. */
async function run<T>(ctx: ReportContext, t: SampleTable, n: number, args: string[]) {
  const what = `entries ${args[0]} at ${fmtCount(n)}`;
  const out = await recording(ctx, what, () => ctx.children.run<T>({ script: CHILD, args }));
  if (out === undefined) {
    for (const row of ENTRY_ROWS) t.fail(row, n);
    return undefined;
  }
  if (out.status === "ok") return out.result;
  for (const row of ENTRY_ROWS) t.timeOut(row, n);
  ctx.progress.note(`  ${args[0]}: killed after ${fmtNs(out.wallMs * 1e6)} (timeout)`);
  return undefined;
}

/** One process of the copy baseline (the minimum of its rounds is one sample). */
async function copy(ctx: ReportContext, t: SampleTable, n: number) {
  const args = ["memcpy", "--files", `${n}`, "--rounds", `${COPY_ROUNDS}`];
  const r = await run<{ nativeNs: number; setNs: number }>(ctx, t, n, args);
  if (!r) return;
  t.add("memcpy", n, r.nativeNs);
  t.add("set", n, r.setNs);
  ctx.progress.note(`  memcpy: ${fmtNs(r.nativeNs)}, Uint8Array.set: ${fmtNs(r.setNs)}`);
}

async function imageAndRestore(ctx: ReportContext, t: SampleTable, n: number) {
  const arena = `${ctx.dir}/entries.arena`;
  try {
    const base = ["--arena", arena, "--files", `${n}`];
    const img = await run<{ preserveNs: number; handoverNs: number }>(ctx, t, n, [
      "image",
      ...base,
    ]);
    if (!img) return;
    t.add("preserve-handover", n, img.preserveNs + img.handoverNs);
    t.add("handover", n, img.handoverNs);
    const args = ["restore", ...base, "--rounds", `${RESTORE_ROUNDS}`];
    const r = await run<{ cold: Restore; warm: Restore }>(ctx, t, n, args);
    if (!r) return;
    const total = (x: Restore) => x.openNs + x.validateNs + x.retrieveNs;
    t.add("deserialize", n, total(r.cold));
    t.add("validate", n, r.cold.validateNs);
    t.add("warm-deserialize", n, total(r.warm));
    t.add("warm-validate", n, r.warm.validateNs);
    ctx.progress.note(
      `  preserve + hand over ${fmtNs(img.preserveNs + img.handoverNs)}, ` +
        `open + validate + retrieve ${fmtNs(total(r.cold))} (validate ${fmtNs(r.cold.validateNs)})`,
    );
  } finally {
    removeIfPresent(arena);
  }
}

/** Runs every size of the entry benchmarks, the repeats interleaved; samples go into `t`. */
export async function runEntries(ctx: ReportContext, t: SampleTable): Promise<void> {
  await interleaved(ctx, ctx.options.files, (n) => n >= 1_000_000, async (n, r, repeats) => {
    if (t.skips("deserialize", n)) return;
    ctx.progress.note(`entries: ${fmtCount(n)} files, repeat ${r}/${repeats}`);
    await copy(ctx, t, n);
    await imageAndRestore(ctx, t, n);
  });
}
