/**
 * Running a child Deno process (the "successor" of a handover test, or a
 * command of the CLI) and the two stages of `./luo stress`.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Output of a child process. */
export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A script ...args` as a separate process. */
export async function runDeno(script: string | URL, args: string[]): Promise<ChildResult> {
  const path = script instanceof URL ? script.pathname : script;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", path, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** How {@link runDenoWith} runs a child. */
export interface DenoRun {
  /** Permission and other flags of `deno run` (no `-A` is added). */
  flags: string[];
  /** The script, a path or URL. */
  script: string;
  /** Its arguments. */
  args: string[];
  /** The whole environment of the child (nothing else is inherited). */
  env: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Runs deno under this command, e.g. `setpriv --reuid=65534 ...` (deno's argv follows it). */
  wrapper?: string[];
  /** Kills the child (SIGKILL) when it runs longer than this: a hang fails, it does not stall the tests. */
  deadlineMs?: number;
}

/** Output of a child that prints one JSON line last, and that line parsed (`{}` if none). */
export interface JsonResult<T> extends ChildResult {
  json: Partial<T> & { error?: { name: string; code: string; message: string } };
  /** Whether it was killed at its deadline. */
  killed: boolean;
}

/**
 * Runs `deno run FLAGS SCRIPT ARGS` with exactly the given environment and
 * parses the last line of its output as JSON.
 */
export async function runDenoWith<T = Record<string, unknown>>(
  run: DenoRun,
): Promise<JsonResult<T>> {
  const argv = [
    ...run.wrapper ?? [],
    Deno.execPath(),
    "run",
    ...run.flags,
    run.script,
    ...run.args,
  ];
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: run.cwd,
    clearEnv: true,
    env: run.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = run.deadlineMs === undefined ? undefined : setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, run.deadlineMs);
  const out = await child.output().finally(() => clearTimeout(timer));
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  let json = {};
  try {
    json = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  } catch { /* no JSON: the caller asserts on the code and the output */ }
  return { code: out.code, stdout, stderr: dec.decode(out.stderr), json, killed };
}

/** Runs a child and fails the test with its output when it exits non-zero. */
export async function runOk(script: string | URL, args: string[]): Promise<ChildResult> {
  const r = await runDeno(script, args);
  assert.equal(r.code, 0, `child ${script} ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const CLI = new URL("../cli.ts", import.meta.url);

/** The arguments of `./luo stress STAGE` for a shape, quietly. */
function stressArgs(stage: string, path: string, sessions: number, files: number): string[] {
  return [
    "stress",
    stage,
    "--arena",
    path,
    "--sessions",
    String(sessions),
    "--files",
    String(files),
    "--quiet",
  ];
}

/** Runs `./luo stress stage1` (through cli.ts); fails the test if it fails. */
export async function stressStage1(
  path: string,
  sessions: number,
  files: number,
): Promise<ChildResult> {
  return await runOk(CLI, stressArgs("stage1", path, sessions, files));
}

/** Runs `./luo stress stage2` (through cli.ts) and returns its result, failed or not. */
export async function stressStage2(
  path: string,
  sessions: number,
  files: number,
): Promise<ChildResult> {
  return await runDeno(CLI, stressArgs("stage2", path, sessions, files));
}
