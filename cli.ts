/**
 * The command line of the published package:
 * `deno run -A jsr:@luo/live-update/cli <command>` (in a checkout, `./luo
 * <command>`). Commands: demo, inspect, stress, convert; every one takes
 * `--help`; errors are one line (a stack trace only with `--debug`). The
 * usage lines name the program as it was run (`cli/program.ts`).
 *
 * @example
 * ```sh
 * deno run -A jsr:@luo/live-update/cli inspect /dev/shm/my-service/state.arena --json
 * ```
 *
 * @module
 */

import { LiveUpdateError } from "./mod.ts";
import { type Command, runMain } from "./cli/main.ts";
import { demo, DEMO_HELP, demoSuccessor } from "./cli/demo.ts";
import { inspect, INSPECT_HELP } from "./cli/inspect.ts";
import { convert, CONVERT_HELP } from "./cli/convert.ts";
import { printStress, STRESS_HELP } from "./cli/stress.ts";
import { UsageError } from "./cli/errors.ts";
import { PROG } from "./cli/program.ts";

const COMMANDS: Record<string, Command> = {
  demo: { help: DEMO_HELP, run: demo },
  inspect: { help: INSPECT_HELP, run: inspect },
  stress: { help: STRESS_HELP, run: printStress },
  convert: { help: CONVERT_HELP, run: convert },
  __demo_successor: { help: "", run: successor },
};

/** The successor process of `demo` (started by it): `__demo_successor ARENA [keep]`. */
function successor(args: string[]): Promise<number> | number {
  if (args.length < 1 || args.length > 2 || args[0] === "" || (args[1] ?? "keep") !== "keep") {
    throw new UsageError(
      "__demo_successor ARENA [keep]: the successor process of demo, which starts it; run demo",
    );
  }
  return demoSuccessor(args[0], args[1] === "keep");
}

const USAGE = `usage: ${PROG} <command> [options]

commands:
  demo               a live update end to end: hand over, verify in a separate process
  inspect ARENA      show what an arena holds (--json for machines)
  stress stage1|2    the kernel's two-stage stress test (sessions x files)
  convert ARENA      rewrite a luo-session-v3 image as v4, in place, atomically

In a checkout, ./luo also runs: test, bench, fuzz, example (see ./luo --help).
A command's options: ${PROG} <command> --help. Stack traces: --debug.`;

if (import.meta.main) await runMain(COMMANDS, USAGE, (e) => e instanceof LiveUpdateError);
