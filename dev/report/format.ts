/**
 * How the report writes numbers: times with a unit that fits, ratios with
 * a `×`, ratios over a limit in bold with the limit named, and the machine
 * and code a report was made on.
 *
 * @module
 */

export { markdownTable as table } from "../../cli/table.ts";

/** A time in nanoseconds, in the unit that fits (`1.23 s`, `4.56 ms`, `7.8 µs`, `9.0 ns`). */
export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(1)} ns`;
}

/** A ratio (`2.50×`). */
export function fmtRatio(r: number): string {
  return `${r.toFixed(2)}×`;
}

/** A ratio, in bold with the limit named when it is over `limit`. */
export function fmtMarked(r: number, limit: number): string {
  return r > limit ? `**${fmtRatio(r)} (over ${fmtRatio(limit)})**` : fmtRatio(r);
}

/** A count with thousands separators (`1,000,000`). */
export function fmtCount(n: number): string {
  return n.toLocaleString("en-US");
}

/** A count in short form for column headers (`1k`, `100k`, `1M`). */
export function fmtShort(n: number): string {
  if (n >= 1e6 && n % 1e6 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 1e3 === 0) return `${n / 1e3}k`;
  return String(n);
}

/** CPU model, cores, RAM, OS and Deno/V8 versions of this machine. */
export function machine(): string {
  let cpu = "unknown CPU";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? cpu;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const ram = (Deno.systemMemoryInfo().total / 2 ** 30).toFixed(0);
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${ram} GiB RAM, ` +
    `${Deno.build.os}/${Deno.build.arch}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}

/** The commit the report ran on (`abc1234`, `+ changes` when the tree is dirty), or "unknown". */
export async function commit(root: URL): Promise<string> {
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "null" })
      .output();
    return out.code === 0 ? new TextDecoder().decode(out.stdout).trim() : undefined;
  };
  try {
    const head = await git("rev-parse", "--short", "HEAD");
    if (head === undefined) return "unknown";
    const dirty = await git("status", "--porcelain", "--untracked-files=no");
    return dirty ? `${head} + uncommitted changes` : head;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "unknown (no git)";
    throw e;
  }
}
