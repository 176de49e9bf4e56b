/**
 * Running the lifecycle paths, one sample per fresh process
 * (bench/lifecycle/child.ts), in the order a service walks them: the
 * predecessor preserves and hands over; successors inspect, keep, close,
 * release (none of them hands over, so the image stays); then a second and
 * a third generation hand over again. Separately: preserve then close an
 * outgoing session, and convert of a v3 image.
 *
 * @module
 */

import { LIFECYCLE_PATHS, type PathName } from "../../bench/lifecycle/paths.ts";
import type { Shape } from "../../bench/lifecycle/shape.ts";
import { removeIfPresent } from "../../bench/fixtures.ts";
import { V3 } from "../../lib/format/v3.ts";
import { fmtCount, fmtNs } from "./format.ts";
import type { SampleTable } from "./samples.ts";
import { interleaved, recording, type ReportContext } from "./section.ts";

/** A row of the lifecycle tables: the child path it runs, and its label. */
export interface LifecycleRow {
  row: string;
  path: PathName;
  label: string;
}

const row = (path: PathName, name: string = path, suffix = ""): LifecycleRow => ({
  row: name,
  path,
  label: LIFECYCLE_PATHS[path].label + suffix,
});

/** The rows, in the report's order. */
export const LIFECYCLE_ROWS: readonly LifecycleRow[] = [
  row("preserve-handover"),
  row("preserve-close"),
  row("inspect"),
  row("keep-finish"),
  row("close-each"),
  row("release"),
  row("generation", "generation-2", " (2nd generation)"),
  row("generation", "generation-3", " (3rd generation)"),
  row("convert"),
];

/** Sizes of one table and the shape of each. */
export interface Dimension {
  /** What a size counts: files in one session, or sessions of one file. */
  unit: "file" | "session";
  /** The sizes, ascending. */
  sizes: number[];
}

/** The shape of `size` in `dim`. */
export function shapeOf(dim: Dimension, size: number): Shape {
  return dim.unit === "file" ? { sessions: 1, files: size } : { sessions: size, files: 1 };
}

/** The v3 shape of about `files` files: sessions of 128; undefined when v3 cannot hold them. */
export function v3ShapeOf(files: number): Shape | undefined {
  const sessions = Math.ceil(files / V3.maxFiles);
  return sessions <= V3.maxSessions ? { sessions, files: V3.maxFiles } : undefined;
}

const CHILD = "bench/lifecycle/child.ts";
const PATH_OF = new Map(LIFECYCLE_ROWS.map((r) => [r.row, r.path]));

/** The arguments of the child for `path` over `arena`. */
function childArgs(path: string, arena: string, shape: Shape): string[] {
  return [path, "--arena", arena, "--sessions", `${shape.sessions}`, "--files", `${shape.files}`];
}

/** Runs one sample of `name` at `size` and records it; false when it was skipped or timed out. */
async function sample(
  ctx: ReportContext,
  table: SampleTable,
  name: string,
  size: number,
  shape: Shape,
  arena: string,
): Promise<boolean> {
  if (table.skips(name, size)) return false;
  const out = await recording(
    ctx,
    `lifecycle ${name} at ${fmtCount(size)}`,
    () =>
      ctx.children.run<{ ns: number }>({
        script: CHILD,
        args: childArgs(PATH_OF.get(name) ?? name, arena, shape),
      }),
  );
  if (out === undefined) {
    table.fail(name, size);
    return false;
  }
  if (out.status === "timed out") {
    table.timeOut(name, size);
    ctx.progress.note(`  ${name}: killed after ${fmtNs(out.wallMs * 1e6)} (timeout)`);
    return false;
  }
  table.add(name, size, out.result.ns);
  ctx.progress.note(`  ${name}: ${fmtNs(out.result.ns)}`);
  return true;
}

/** The predecessor, the successors that leave the image, two more generations. */
async function imagePipeline(ctx: ReportContext, t: SampleTable, size: number, shape: Shape) {
  const arena = `${ctx.dir}/lifecycle.arena`;
  try {
    if (!await sample(ctx, t, "preserve-handover", size, shape, arena)) return;
    for (const name of ["inspect", "keep-finish", "close-each", "release"]) {
      await sample(ctx, t, name, size, shape, arena);
    }
    if (await sample(ctx, t, "generation-2", size, shape, arena)) {
      await sample(ctx, t, "generation-3", size, shape, arena);
    }
  } finally {
    removeIfPresent(arena);
  }
}

/** Writes a v3 image (not a sample; a timeout counts as convert's), then converts it. */
async function convertPipeline(ctx: ReportContext, t: SampleTable, size: number) {
  const shape = v3ShapeOf(size);
  if (shape === undefined || t.skips("convert", size)) return;
  const arena = `${ctx.dir}/v3.arena`;
  try {
    const built = await recording(
      ctx,
      `lifecycle v3-build at ${fmtCount(size)}`,
      () => ctx.children.run({ script: CHILD, args: childArgs("v3-build", arena, shape) }),
    );
    if (built === undefined) return t.fail("convert", size);
    if (built.status === "timed out") return t.timeOut("convert", size);
    await sample(ctx, t, "convert", size, shape, arena);
  } finally {
    removeIfPresent(arena);
  }
}

/** Runs every row of `dim` at every size, repeated (interleaved); samples go into `table`. */
export async function runDimension(ctx: ReportContext, dim: Dimension, table: SampleTable) {
  await interleaved(ctx, dim.sizes, (s) => s >= 100_000, async (size, r, repeats) => {
    ctx.progress.note(`lifecycle: ${fmtCount(size)} ${dim.unit}s, repeat ${r}/${repeats}`);
    const shape = shapeOf(dim, size);
    await imagePipeline(ctx, table, size, shape);
    const outgoing = `${ctx.dir}/outgoing.arena`;
    await sample(ctx, table, "preserve-close", size, shape, outgoing);
    removeIfPresent(outgoing);
    if (dim.unit === "file") await convertPipeline(ctx, table, size);
  });
}

/**
 * Runs "keep alive through finish" (open + retrieve all + keep + finish) at
 * `sizes` files: one image per size, the repeats interleaved.
 */
export async function runKeepAlive(ctx: ReportContext, sizes: number[], table: SampleTable) {
  const arena = (size: number) => `${ctx.dir}/keep-alive-${size}.arena`;
  const shape = (size: number) => ({ sessions: 1, files: size });
  try {
    for (const size of sizes) {
      await sample(ctx, table, "preserve-handover", size, shape(size), arena(size));
    }
    await interleaved(ctx, sizes, () => false, async (size, r, repeats) => {
      if (table.min("preserve-handover", size) === undefined) return;
      ctx.progress.note(`keep alive: ${fmtCount(size)} files, repeat ${r}/${repeats}`);
      await sample(ctx, table, "keep-finish", size, shape(size), arena(size));
    });
  } finally {
    for (const size of sizes) removeIfPresent(arena(size));
  }
}
