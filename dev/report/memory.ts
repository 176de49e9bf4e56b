/**
 * Report section "memory": what preserving N files costs the process (JS
 * heap, typed arrays, resident set) and the arena, per file
 * (bench/memory.ts in its own process, with a collectable heap).
 *
 * @module
 */

import { fmtCount } from "./format.ts";
import type { ReportSection } from "./section.ts";
import { BenchError } from "./errors.ts";

interface MemoryResult {
  files: number;
  heapBytesPerFile: number;
  externalBytesPerFile: number;
  rssBytesPerFile: number;
  arenaBytesPerFile: number;
}

/** The memory section. */
export const memorySection: ReportSection = {
  id: "memory",
  title: "Memory per preserved file",
  async run(ctx) {
    const n = Math.max(...ctx.options.files);
    ctx.progress.note(`memory: ${fmtCount(n)} bare files preserved`);
    const out = await ctx.children.run<MemoryResult>({
      script: "bench/memory.ts",
      args: [String(n)],
      flags: ["--v8-flags=--expose-gc"],
    });
    if (out.status === "timed out") throw new BenchError(`bench/memory.ts ${n}: timed out`);
    const m = out.result;
    const b = (v: number) => `${v.toFixed(1)} B`;
    return [
      `${
        fmtCount(m.files)
      } bare files preserved in one session (the user's objects excluded), per file:`,
      `JS heap ${b(m.heapBytesPerFile)}, typed arrays (staging entries, token index) ` +
      `${b(m.externalBytesPerFile)}, arena (file blocks) ${b(m.arenaBytesPerFile)}, resident set ` +
      `growth ${b(m.rssBytesPerFile)}.`,
      "",
    ];
  },
};
