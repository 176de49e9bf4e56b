/**
 * The dispatcher shared by the published command line (`cli.ts`) and the
 * repository's own commands (`dev/cli.ts`): one command per first
 * argument, `--help` everywhere, errors as one line and an exit code (2
 * for usage errors), a stack trace only with `--debug`.
 *
 * @module
 */

import { UsageError } from "./errors.ts";

/** One command: its help text and what it runs (returns the exit code). */
export interface Command {
  help: string;
  run: (args: string[]) => number | Promise<number>;
}

function isParseArgsError(e: unknown): boolean {
  return (e as { code?: unknown })?.code?.toString().startsWith("ERR_PARSE_ARGS") ?? false;
}

function oneLine(e: unknown, known: (e: unknown) => boolean): string {
  if (e instanceof UsageError || known(e) || isParseArgsError(e)) return (e as Error).message;
  if (e instanceof Deno.errors.NotFound) return `not found: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

async function dispatch(commands: Record<string, Command>, usage: string): Promise<number> {
  const [cmd, ...rest] = Deno.args;
  if (cmd === undefined || cmd === "help" || cmd === "--help" || cmd === "-h") {
    console.log(usage);
    return 0;
  }
  const command = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
  if (!command) throw new UsageError(`unknown command "${cmd}" (try --help)`);
  return await command.run(rest);
}

/**
 * Runs the command named by the first argument and exits with its code;
 * `known` says which errors are the library's own (printed as their message).
 */
export async function runMain(
  commands: Record<string, Command>,
  usage: string,
  known: (e: unknown) => boolean,
): Promise<never> {
  try {
    Deno.exit(await dispatch(commands, usage));
  } catch (e) {
    if (Deno.args.includes("--debug")) console.error(e);
    else console.error(`luo: ${oneLine(e, known)}`);
    Deno.exit(e instanceof UsageError || isParseArgsError(e) ? 2 : 1);
  }
}
