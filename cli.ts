/**
 * The command line of the published package:
 * `deno run -A jsr:@luo/live-update/cli <command>` (in a checkout, `./luo
 * <command>`). Commands: demo, inspect, stress, convert; every one takes
 * `--help`; errors are one line (a stack trace only with `--debug`).
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

const COMMANDS: Record<string, Command> = {
  demo: { help: DEMO_HELP, run: demo },
  inspect: { help: INSPECT_HELP, run: inspect },
  stress: { help: STRESS_HELP, run: printStress },
  convert: { help: CONVERT_HELP, run: convert },
  __demo_successor: { help: "", run: (a) => demoSuccessor(a[0], a[1] === "keep") },
};

const USAGE = `usage: luo <command> [options]

commands:
  demo               a live update end to end: hand over, verify in a separate process
  inspect ARENA      show what an arena holds (--json for machines)
  stress stage1|2    the kernel's two-stage stress test (sessions x files)
  convert ARENA      rewrite a luo-session-v3 image as v4, in place, atomically

In a checkout, ./luo also runs: test, bench, fuzz, example (see ./luo --help).
Run luo <command> --help for a command's options; --debug shows stack traces.`;

if (import.meta.main) await runMain(COMMANDS, USAGE, (e) => e instanceof LiveUpdateError);
