/**
 * Options of the benchmark children (one sample per process, run by
 * `./luo bench --report`): required integers and paths, checked the way
 * the command line checks them (a usage error names the option), the one
 * JSON line a child prints last, and the dispatch of its commands.
 *
 * @module
 */

import { LiveUpdateError } from "../mod.ts";
import { type Command, runMain } from "../cli/main.ts";
import { UsageError } from "../cli/errors.ts";

export type { Command };

/** The value of a required integer option `--name` in min..max. */
export function requiredInt(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got "${value}"`);
  }
  return n;
}

/** The value of a required string option `--name`. */
export function requiredString(name: string, value: string | undefined): string {
  if (value === undefined || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

/** Prints the child's result: one JSON line on stdout, the last one. */
export function printResult(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

/**
 * Runs the child's command named by its first argument and exits with its
 * code: a usage error exits 2, a library error 1, each as one line.
 */
export async function runChild(commands: Record<string, Command>, usage: string): Promise<never> {
  return await runMain(commands, usage, (e) => e instanceof LiveUpdateError);
}
