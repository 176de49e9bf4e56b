// The command line behind ./luo: demo, inspect, stress. Every command takes
// --help; errors are one line (a stack trace only with --debug).
import { LiveUpdateError } from "./lib/errors.ts";
import { UsageError } from "./cli/errors.ts";
import { demo, DEMO_HELP, demoSuccessor } from "./cli/demo.ts";
import { inspect, INSPECT_HELP } from "./cli/inspect.ts";
import { fuzz, FUZZ_HELP } from "./cli/fuzz.ts";
import { convert, CONVERT_HELP } from "./cli/convert.ts";
import { BENCH_REPORT_HELP, benchReport } from "./cli/bench_report.ts";
import { example, EXAMPLE_HELP } from "./cli/example.ts";
import { printStress, STRESS_HELP } from "./cli/stress.ts";

const COMMANDS: Record<
  string,
  { help: string; run: (args: string[]) => number | Promise<number> }
> = {
  demo: { help: DEMO_HELP, run: demo },
  inspect: { help: INSPECT_HELP, run: inspect },
  stress: { help: STRESS_HELP, run: printStress },
  fuzz: { help: FUZZ_HELP, run: fuzz },
  convert: { help: CONVERT_HELP, run: convert },
  "bench-report": { help: BENCH_REPORT_HELP, run: benchReport },
  example: { help: EXAMPLE_HELP, run: example },
};

const USAGE = `usage: ./luo <command> [options]

commands:
  demo               a live update end to end: hand over, verify in a separate process
  inspect ARENA      show what an arena holds (--json for machines)
  stress stage1|2    the kernel's two-stage stress test (sessions x files)
  convert ARENA      rewrite a luo-session-v3 image as v4, in place, atomically
  fuzz               corruption fuzzing of handed-over arenas (--cases N --seed S)
  example cache-server  zero-downtime upgrades of a real HTTP cache under load
  test               every check (handled by ./luo)
  bench              the benchmarks (handled by ./luo); bench --report [--big] writes bench/RESULTS.md

Run ./luo <command> --help for a command's options; --debug shows stack traces.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (cmd === "__demo_successor") return demoSuccessor(rest[0], rest[1] === "keep");
  const command = COMMANDS[cmd];
  if (!command) throw new UsageError(`unknown command "${cmd}" (try ./luo --help)`);
  return await command.run(rest);
}

function oneLine(e: unknown): string {
  if (e instanceof UsageError || e instanceof LiveUpdateError) return e.message;
  if (e instanceof Error && (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    return e.message;
  }
  if (e instanceof Deno.errors.NotFound) return `not found: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

try {
  Deno.exit(await main(Deno.args));
} catch (e) {
  if (Deno.args.includes("--debug")) console.error(e);
  else console.error(`luo: ${oneLine(e)}`);
  const usage = e instanceof UsageError ||
    (e as { code?: string })?.code?.startsWith?.("ERR_PARSE_ARGS");
  Deno.exit(usage ? 2 : 1);
}
