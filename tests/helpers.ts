/**
 * Small test helpers: assertions on typed errors, a temp arena path, and a
 * runner for child processes (the "successor" of a handover test).
 *
 * @module
 */

import assert from "node:assert/strict";
import { LiveUpdateError } from "../lib/errors.ts";

/** Asserts that `fn` throws a {@link LiveUpdateError} of `code` whose message matches `pattern`. */
export function assertCode(fn: () => unknown, code: string, pattern?: RegExp): LiveUpdateError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LiveUpdateError, `expected a LiveUpdateError, got ${e}`);
    assert.equal(e.code, code, `wrong code in: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

/** A fresh, not yet existing arena path in a temp dir that `cleanup` removes. */
export function tempArena(name = "test"): { path: string; dir: string; cleanup: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "luo-test-" });
  return {
    path: `${dir}/${name}.arena`,
    dir,
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
}

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

/** Runs a child and fails the test with its output when it exits non-zero. */
export async function runOk(script: string | URL, args: string[]): Promise<ChildResult> {
  const r = await runDeno(script, args);
  assert.equal(r.code, 0, `child ${script} ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Deterministic pattern byte for region `r` at offset `i`. */
export function patternByte(r: number, i: number): number {
  return (r * 131 + i * 7 + (i >>> 12)) & 0xff;
}

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
  return await runOk(
    new URL("../cli.ts", import.meta.url),
    stressArgs("stage1", path, sessions, files),
  );
}

/** Runs `./luo stress stage2` (through cli.ts) and returns its result, failed or not. */
export async function stressStage2(
  path: string,
  sessions: number,
  files: number,
): Promise<ChildResult> {
  return await runDeno(
    new URL("../cli.ts", import.meta.url),
    stressArgs("stage2", path, sessions, files),
  );
}
