/**
 * What a report section is and what it gets: the options, a scratch
 * directory, the child runner and the progress log. To add a section,
 * write a module exporting a {@link ReportSection} and list it in
 * `sections.ts`; it then runs in that order, answers to `--only ID`, and
 * its lines go into bench/RESULTS.md under its title.
 *
 * @module
 */

import type { ChildRunner } from "./children.ts";
import { BenchError } from "./errors.ts";
import type { ReportOptions } from "./options.ts";
import type { Progress } from "./progress.ts";

/** What every section gets. */
export interface ReportContext {
  /** The options of this run. */
  readonly options: ReportOptions;
  /** The repository root (children run there). */
  readonly root: URL;
  /** A scratch directory for arenas and files (/dev/shm when present), removed at the end. */
  readonly dir: string;
  /** Runs benchmark children, one sample per process. */
  readonly children: ChildRunner;
  /** Progress lines on stderr. */
  readonly progress: Progress;
  /** Samples that failed (a child's error, results that contradict each other), for the report's end. */
  readonly failures: string[];
}

/**
 * Runs `fn`; when it throws a {@link BenchError} (a child failed), records
 * the failure under `what` and returns undefined, so that the report goes
 * on and says what failed at its end.
 */
export async function recording<T>(
  ctx: ReportContext,
  what: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof BenchError)) throw e;
    ctx.failures.push(`${what}: ${e.message}`);
    ctx.progress.note(`  ${what}: FAILED (${e.message.split("\n")[0]})`);
    return undefined;
  }
}

/** One section of the report. */
export interface ReportSection {
  /** Short name for `--only` (lowercase, no spaces). */
  id: string;
  /** Its heading in the report. */
  title: string;
  /** Runs its benchmarks and returns its Markdown lines (without the heading). */
  run(ctx: ReportContext): Promise<string[]>;
}

/** Repeats of a sample: `--repeats`, else 3 for a large one (a minute or more) and 5 otherwise. */
export function repeatsFor(options: ReportOptions, large: boolean): number {
  return options.repeats ?? (large ? 3 : 5);
}

/**
 * Calls `fn(size, round, rounds)` for every repeat of every size, the
 * repeats interleaved: round r runs every size that has an r-th repeat, so
 * that a machine whose load changes during the run slows every size alike
 * instead of inventing a drift between them.
 */
export async function interleaved(
  ctx: ReportContext,
  sizes: readonly number[],
  large: (size: number) => boolean,
  fn: (size: number, round: number, rounds: number) => Promise<void>,
): Promise<void> {
  const rounds = Math.max(...sizes.map((s) => repeatsFor(ctx.options, large(s))));
  for (let r = 1; r <= rounds; r++) {
    for (const size of sizes) {
      const repeats = repeatsFor(ctx.options, large(size));
      if (r <= repeats) await fn(size, r, repeats);
    }
  }
}
