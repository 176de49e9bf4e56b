/**
 * Report section "cold-read": a predecessor process writes the state once
 * in every form; each sample is a fresh successor process that gets it
 * back one way, timed to "first byte usable" and to "every byte read"
 * (the same checksum for every method, checked equal). Against the same
 * checksum over bytes already in memory.
 *
 * @module
 */

import { CHUNK, READ_METHODS, type ReadMethod } from "../../bench/cold_read/methods.ts";
import { MiB } from "../../bench/cold_read/state.ts";
import { BenchError } from "./errors.ts";
import { fmtMarked, fmtNs, fmtRatio, table } from "./format.ts";
import { SampleTable } from "./samples.ts";
import { recording, repeatsFor, type ReportContext, type ReportSection } from "./section.ts";

const CHILD = "bench/cold_read/child.ts";
/** Goal of memfd's "every byte read" ÷ the in-memory checksum (issue 12, item 5). */
const IN_MEMORY_GOAL = 1.3;
const METHODS = Object.keys(READ_METHODS) as ReadMethod[];
const LABELS: Record<ReadMethod, string> = {
  memfd: "memfd: retrieve, read the same pages (zero-copy)",
  readFile: "`Deno.readFile`",
  stream: `chunked reads (${CHUNK / MiB} MiB, one reused buffer)`,
  v8: "`node:v8`: `Deno.readFile` + `deserialize`",
};

interface Read {
  method: ReadMethod;
  firstByteNs: number;
  everyByteNs: number;
  checksum: string;
  firstByte: number;
  inMemoryNs?: number;
  viewsAgainNs?: number;
}

function check(mib: number, want: { checksum: string }, got: Read, first: number | undefined) {
  if (got.checksum !== want.checksum || (first !== undefined && got.firstByte !== first)) {
    throw new BenchError(
      `cold read of ${mib} MiB by ${got.method}: checksum ${got.checksum} (first byte ` +
        `${got.firstByte}), the predecessor wrote ${want.checksum}`,
    );
  }
}

async function runSize(ctx: ReportContext, t: SampleTable, mib: number): Promise<void> {
  const dir = `${ctx.dir}/cold-read`;
  Deno.mkdirSync(dir);
  try {
    ctx.progress.note(`cold read: writing ${mib} MiB in every form`);
    const w = await recording(
      ctx,
      `cold read write ${mib} MiB`,
      () =>
        ctx.children.run<{ checksum: string }>({
          script: CHILD,
          args: ["write", "--dir", dir, "--mib", `${mib}`],
        }),
    );
    if (w === undefined) return METHODS.forEach((m) => t.fail(m, mib));
    if (w.status === "timed out") return METHODS.forEach((m) => t.timeOut(m, mib));
    const repeats = repeatsFor(ctx.options, mib >= 1024);
    let first: number | undefined;
    for (let r = 0; r < repeats; r++) {
      ctx.progress.note(`cold read: ${mib} MiB, repeat ${r + 1}/${repeats}`);
      // Methods in a rotated order, so that none always runs right after the write.
      for (let k = 0; k < METHODS.length; k++) {
        const method = METHODS[(k + r) % METHODS.length];
        if (t.skips(method, mib)) continue;
        const out = await recording(ctx, `cold read ${method} ${mib} MiB`, async () => {
          const o = await ctx.children.run<Read>({
            script: CHILD,
            args: ["read", "--dir", dir, "--method", method],
          });
          if (o.status === "ok") check(mib, w.result, o.result, first);
          return o;
        });
        if (out === undefined) {
          t.fail(method, mib);
          continue;
        }
        if (out.status === "timed out") {
          t.timeOut(method, mib);
          continue;
        }
        const got = out.result;
        first = got.firstByte;
        t.add(method, mib, got.everyByteNs);
        t.add(`${method}:first`, mib, got.firstByteNs);
        if (got.inMemoryNs !== undefined) t.add("in-memory", mib, got.inMemoryNs);
        if (got.viewsAgainNs !== undefined) t.add("views-again", mib, got.viewsAgainNs);
        ctx.progress.note(
          `  ${method}: first byte ${fmtNs(got.firstByteNs)}, every byte ${fmtNs(got.everyByteNs)}`,
        );
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function rows(ctx: ReportContext, t: SampleTable): string[][] {
  return ctx.options.mib.flatMap((mib) =>
    METHODS.map((m) => {
      const every = t.min(m, mib);
      const first = t.min(`${m}:first`, mib);
      const memEvery = t.min("memfd", mib);
      const memFirst = t.min("memfd:first", mib);
      if (every === undefined || first === undefined) {
        return [`${mib} MiB`, LABELS[m], t.missing(m, mib, ctx.options.timeoutS), "-", "-", "-"];
      }
      const vs = (x: number, base: number | undefined) => base ? fmtRatio(x / base) : "-";
      return [
        `${mib} MiB`,
        LABELS[m],
        fmtNs(first),
        vs(first, memFirst),
        fmtNs(every),
        vs(every, memEvery),
      ];
    })
  );
}

function inMemoryLines(ctx: ReportContext, t: SampleTable): string[] {
  return ctx.options.mib.map((mib) => {
    const heap = t.min("in-memory", mib);
    const memfd = t.min("memfd", mib);
    const again = t.min("views-again", mib);
    if (heap === undefined || memfd === undefined || again === undefined) {
      return `- ${mib} MiB: not measured (memfd has no sample)`;
    }
    return `- ${mib} MiB: in memory ${fmtNs(heap)}; memfd retrieve + every byte ÷ that: ` +
      `${fmtMarked(memfd / heap, IN_MEMORY_GOAL)} (goal at most ${fmtRatio(IN_MEMORY_GOAL)}); ` +
      `over the retrieved pages again, now mapped: ${fmtNs(again)}`;
  });
}

/** The cold-read section. */
export const coldReadSection: ReportSection = {
  id: "cold-read",
  title: "A cold successor gets the state back: first byte, every byte",
  async run(ctx) {
    const t = new SampleTable();
    for (const mib of ctx.options.mib) await runSize(ctx, t, mib);
    return [
      "A predecessor process writes the state once, as a memory file handed over in an arena and as",
      "plain files beside it (in RAM: /dev/shm when present). Each sample is a fresh successor",
      'process: its clock starts at its first call for the state. "First byte usable": the first byte',
      'was read; "every byte read": the same checksum over every byte (32-bit words, checked equal for',
      "every method). Minimum of the samples; ÷ memfd: how many times memfd's time.",
      "",
      table(
        ["state", "method", "first byte usable", "÷ memfd", "every byte read", "÷ memfd"],
        rows(ctx, t),
      ),
      "",
      "The same checksum over the same bytes already in memory (a heap copy in the memfd successor,",
      "minimum of three passes), against memfd's retrieve + every byte read:",
      "",
      ...inMemoryLines(ctx, t),
      "",
    ];
  },
};
