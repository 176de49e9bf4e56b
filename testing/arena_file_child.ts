/**
 * Running tests/children/arena_file_child.ts: one arena call as a separate
 * process, optionally as another user (setpriv) or inside a shell script
 * (for a private mount namespace), with its outcome parsed.
 *
 * @module
 */

/** The outcome the child prints: success or a typed error. */
export interface ChildOutcome {
  ok?: boolean;
  code?: string;
  message?: string;
  created?: boolean;
  handovers?: number;
}

const CHILD = new URL("../tests/children/arena_file_child.ts", import.meta.url).pathname;

/** The command line of one child call: `deno run -A --quiet CHILD ...args`. */
export function childArgs(...args: string[]): string[] {
  return [Deno.execPath(), "run", "-A", "--quiet", CHILD, ...args];
}

/** Runs `argv` (a child call, possibly wrapped) and parses every line it printed. */
export async function runChild(
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ outcomes: ChildOutcome[]; stderr: string; code: number }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  const lines = dec.decode(out.stdout).split("\n").filter((l) => l.startsWith("{"));
  return {
    outcomes: lines.map((l) => JSON.parse(l)),
    stderr: dec.decode(out.stderr),
    code: out.code,
  };
}

/** Whether `argv` runs and exits 0 (to skip tests whose tools or privileges are missing). */
export async function works(argv: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
