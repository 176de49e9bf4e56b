/**
 * How this command line is named in its usage lines and hints: the way it
 * was run. `$LUO_PROG` when it is set and readable without asking (the
 * `./luo` launcher of a checkout sets `./luo`), else how the published
 * package runs it, {@link DEFAULT_PROG}.
 *
 * @module
 */

/** Environment variable naming the program (read only when `--allow-env` grants it). */
export const PROG_ENV = "LUO_PROG";
/** The published command line, as JSR users run it. */
export const DEFAULT_PROG = "deno run -A jsr:@luo/live-update/cli";

/** The program's name (see the module documentation); never prompts. */
export function programName(): string {
  const granted = Deno.permissions.querySync({ name: "env", variable: PROG_ENV }).state;
  if (granted !== "granted") return DEFAULT_PROG;
  return Deno.env.get(PROG_ENV) || DEFAULT_PROG;
}

/** {@link programName}, read once. */
export const PROG: string = programName();
