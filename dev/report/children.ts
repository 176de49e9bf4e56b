/**
 * Running benchmark children, one sample per process: `deno run -A SCRIPT
 * ARGS`, whose result is the JSON line it prints last, or a whole suite
 * with `deno bench --json SCRIPT`, whose result is its JSON; a child that
 * runs longer than the timeout is killed (SIGKILL) and reported as timed
 * out instead of holding the report for hours; any other failure is a
 * {@link BenchError} with the child's own words.
 *
 * @module
 */

import { BenchError } from "./errors.ts";

/** One child to run. */
export interface ChildSpec {
  /** The script, relative to the repository root. */
  script: string;
  /** Its arguments. */
  args: string[];
  /** Flags of `deno run` besides `-A --quiet` (e.g. `--v8-flags=--expose-gc`). */
  flags?: string[];
  /** Variables added to the child's environment. */
  env?: Record<string, string>;
  /** Runs `deno bench --json` over the script instead (its whole output is the result). */
  bench?: boolean;
}

/** What a child gave: its result, or that it was killed at the timeout. */
export type ChildOutcome<T> =
  | { status: "ok"; result: T; wallMs: number }
  | { status: "timed out"; wallMs: number };

/** How much of a failed child's stderr a {@link BenchError} quotes. */
const STDERR_TAIL = 2000;

/** Runs benchmark children from the repository root with one timeout. */
export class ChildRunner {
  readonly #root: URL;
  readonly #timeoutMs: number;

  /** Children run in `root`; each is killed after `timeoutMs`. */
  constructor(root: URL, timeoutMs: number) {
    this.#root = root;
    this.#timeoutMs = timeoutMs;
  }

  /** The timeout of every child, in milliseconds. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** Runs `spec` and parses its last line of output as JSON. */
  async run<T>(spec: ChildSpec): Promise<ChildOutcome<T>> {
    const command = `${spec.script} ${spec.args.join(" ")}`;
    const t0 = performance.now();
    const args = spec.bench
      ? ["bench", "-A", "--unstable-kv", "--json", ...(spec.flags ?? []), spec.script, ...spec.args]
      : ["run", "-A", "--quiet", ...(spec.flags ?? []), spec.script, ...spec.args];
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: this.#root,
      env: spec.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, this.#timeoutMs);
    let out: Deno.CommandOutput;
    try {
      out = await child.output();
    } finally {
      clearTimeout(timer);
    }
    const wallMs = performance.now() - t0;
    if (timedOut) return { status: "timed out", wallMs };
    const dec = new TextDecoder();
    if (out.code !== 0) {
      const stderr = dec.decode(out.stderr).slice(-STDERR_TAIL).trim();
      throw new BenchError(
        `${command}: exited with ${out.code}${out.signal ? ` (${out.signal})` : ""}:\n${stderr}`,
      );
    }
    const stdout = dec.decode(out.stdout).trim();
    const json = spec.bench ? stdout : stdout.split("\n").at(-1) ?? "";
    try {
      return { status: "ok", result: JSON.parse(json) as T, wallMs };
    } catch (e) {
      throw new BenchError(`${command}: its result is not JSON: ${json.slice(0, 200)}`, {
        cause: e,
      });
    }
  }
}
