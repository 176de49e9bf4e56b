// The repository's own commands behind ./luo (not published): fuzz, the
// benchmark report, the examples. The published commands are in cli.ts.
import { LiveUpdateError } from "../mod.ts";
import { type Command, runMain } from "../cli/main.ts";
import { BENCH_REPORT_HELP, benchReport } from "./bench_report.ts";
import { example, EXAMPLE_HELP } from "./example.ts";
import { fuzz, FUZZ_HELP } from "./fuzz.ts";

const COMMANDS: Record<string, Command> = {
  fuzz: { help: FUZZ_HELP, run: fuzz },
  "bench-report": { help: BENCH_REPORT_HELP, run: benchReport },
  example: { help: EXAMPLE_HELP, run: example },
};

const USAGE = `usage: ./luo <command> [options]

commands of the package (cli.ts):
  demo               a live update end to end: hand over, verify in a separate process
  inspect ARENA      show what an arena holds (--json for machines)
  stress stage1|2    the kernel's two-stage stress test (sessions x files)
  convert ARENA      rewrite a luo-session-v3 image as v4, in place, atomically

commands of the repository:
  test               every check (handled by ./luo)
  bench              the benchmarks (handled by ./luo); bench --report [--big] writes bench/RESULTS.md
  fuzz               corruption fuzzing of handed-over arenas (--cases N --seed S)
  example cache-server  zero-downtime upgrades of a real HTTP cache under load
  prebuild           rebuild the published native libraries (handled by ./luo; --check compares)

Run ./luo <command> --help for a command's options; --debug shows stack traces.`;

await runMain(COMMANDS, USAGE, (e) => e instanceof LiveUpdateError);
