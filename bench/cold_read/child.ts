/**
 * The two processes of the cold-successor benchmark, one command each, as
 * the report runs them (every `read` in a fresh process). Prints one JSON
 * line.
 *
 *   write --dir DIR --mib M                  the predecessor: {bytes, checksum}
 *   read  --dir DIR --method METHOD
 *         a cold successor: {method, firstByteNs, everyByteNs, checksum,
 *         firstByte}; memfd also times, after that, the same checksum over
 *         the same bytes already in memory: the minimum of three passes over
 *         a heap copy (`inMemoryNs`) and over the retrieved views again
 *         (`viewsAgainNs`). The native library is loaded before the clock
 *         starts.
 *
 * METHOD: memfd, readFile, stream, v8 (see methods.ts).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LuoError } from "../../mod.ts";
import { UsageError } from "../../cli/errors.ts";
import { WordChecksum } from "../../testing/checksum.ts";
import { MAX_STATE_MIB } from "../../testing/bench_sizes.ts";
import { type Command, printResult, requiredInt, requiredString, runChild } from "../child_args.ts";
import { loadNativeLibraryNow } from "../fixtures.ts";
import { timeNs } from "../span.ts";
import { READ_METHODS, readMemfd, type ReadMethod } from "./methods.ts";
import { writeState } from "./state.ts";

const PASSES = 3;

function write(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: { dir: { type: "string" }, mib: { type: "string" } },
  });
  const dir = requiredString("dir", values.dir);
  printResult(writeState(dir, requiredInt("mib", values.mib, 1, MAX_STATE_MIB)));
  return 0;
}

/** The checksum of `chunks`, timed: the minimum of {@link PASSES} passes. */
function fastestChecksum(chunks: Uint8Array[]): { ns: number; checksum: string } {
  let ns = Infinity;
  let checksum = "";
  for (let p = 0; p < PASSES; p++) {
    const sum = new WordChecksum();
    ns = Math.min(ns, timeNs(() => chunks.forEach((c) => sum.update(c))));
    checksum = sum.digest();
  }
  return { ns, checksum };
}

/** memfd, then the in-memory baselines over the same bytes (untimed by the method). */
function readMemfdInMemory(dir: string) {
  let heap: ReturnType<typeof fastestChecksum> | undefined;
  let again: ReturnType<typeof fastestChecksum> | undefined;
  const times = readMemfd(dir, (views) => {
    const copy = new Uint8Array(views.reduce((n, v) => n + v.length, 0));
    let at = 0;
    for (const v of views) {
      copy.set(v, at);
      at += v.length;
    }
    heap = fastestChecksum([copy]);
    again = fastestChecksum(views);
  });
  for (const [what, c] of [["heap copy", heap], ["views again", again]] as const) {
    if (c?.checksum !== times.checksum) {
      throw new LuoError("EBADMSG", `memfd: checksum of the ${what} ${c?.checksum} differs`);
    }
  }
  return { ...times, inMemoryNs: heap!.ns, viewsAgainNs: again!.ns };
}

async function read(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: "string" },
      method: { type: "string" },
    },
  });
  const dir = requiredString("dir", values.dir);
  const method = requiredString("method", values.method);
  if (!Object.hasOwn(READ_METHODS, method)) {
    throw new UsageError(`--method must be one of ${Object.keys(READ_METHODS).join(", ")}`);
  }
  if (method === "memfd") loadNativeLibraryNow();
  const times = method === "memfd"
    ? readMemfdInMemory(dir)
    : await READ_METHODS[method as ReadMethod](dir);
  printResult({ method, ...times });
  return 0;
}

const COMMANDS: Record<string, Command> = {
  write: { help: "usage: child.ts write --dir DIR --mib M", run: write },
  read: { help: "usage: child.ts read --dir DIR --method METHOD", run: read },
};

await runChild(COMMANDS, "usage: child.ts write|read ... (see the module's doc)");
