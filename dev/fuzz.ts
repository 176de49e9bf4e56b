/**
 * `./luo fuzz`: the corruption fuzzer over real handed-over arenas.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { positiveInt } from "../cli/errors.ts";
import { Progress } from "../cli/progress.ts";
import { table } from "../cli/table.ts";
import { campaign } from "../testing/fuzz/run.ts";
import { testArenaDir } from "../testing/temp_arena.ts";

export const FUZZ_HELP = `usage: ./luo fuzz [--cases N] [--seed S] [--save DIR] [--json] [--quiet]

Damages real handed-over arenas (empty, one session, 2,000 files, 300
sessions, two PreservedMaps) in seeded ways: bit flips, block counts and
next pointers (outside, unaligned, to itself, cycles), names and
compatibles without NUL, duplicate names and tokens, unknown compatibles,
device tree headers, the arena header, the preserved-memory map, memfd
descriptors, a map's header, state (resealed too), directory, segments,
index slots and records, truncation. Each
case must end in a correct restore or a typed error naming where, within
${2000} ms, with no page leaked. Exits 1 if any case fails.

  --cases N    number of cases (default 1000)
  --seed S     seed (default 1)
  --save DIR   save failing cases there as replayable JSON (default tests/fuzz_regressions)
  --json       print the summary as JSON
  --quiet      no progress on stderr`;

/** Runs the fuzzer; returns the exit code. */
export function fuzz(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      cases: { type: "string" },
      seed: { type: "string" },
      save: { type: "string" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(FUZZ_HELP);
    return 0;
  }
  const cases = positiveInt("cases", values.cases, 1000);
  const seed = positiveInt("seed", values.seed, 1, 0);
  const dir = Deno.makeTempDirSync({
    prefix: "luo-fuzz-",
    dir: testArenaDir(),
  });
  const progress = new Progress("fuzz", cases, !!values.quiet);
  try {
    const s = campaign({
      cases,
      seed,
      dir,
      saveDir: values.save ?? new URL("../tests/fuzz_regressions", import.meta.url).pathname,
      onProgress: (n) => progress.tick(n),
    });
    progress.done();
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else {
      console.log(
        `fuzz: ${s.cases} cases, seed ${s.seed}, ${
          s.seconds.toFixed(1)
        } s, crashes ${s.crashes}, hangs ${s.hangs}, ` +
          `failures ${s.failures}, slowest case ${s.maxMs.toFixed(1)} ms`,
      );
      const rows = Object.entries(s.byResult).sort((a, b) => b[1] - a[1]).map((
        [k, v],
      ) => [k, String(v)]);
      console.log(table(["outcome", "cases"], rows));
      for (const f of s.saved) console.log(`saved failing case: ${f}`);
    }
    return s.failures ? 1 : 0;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
