/**
 * `convert ARENA`: rewrites a luo-session-v3 image as v4 in place.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { convertArena } from "../tools.ts";
import { UsageError } from "./errors.ts";
import { PROG } from "./program.ts";

/** Help of `convert`. */
export const CONVERT_HELP = `usage: ${PROG} convert ARENA [--json]

Rewrites a handed-over image in the formats of this build, in place and
atomically (a crash leaves the old image or the new one): luo-session-v3
(one 65536-byte session block, one 8192-byte file array of at most 128
files per session) becomes luo-session-v4 (chained blocks), and memfd-v1
files become memfd-v2 (128 bytes of metadata for a small file). File data
is not copied. An image with nothing to convert is left alone; any other
format is refused.

  --json    print the result as JSON`;

/** Runs convert; returns the exit code. */
export function convert(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean" }, debug: { type: "boolean" } },
  });
  if (values.help) {
    console.log(CONVERT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("convert: give exactly one ARENA path");
  const r = convertArena(positionals[0]);
  if (values.json) {
    console.log(JSON.stringify({ ...r, liveupdateNumber: String(r.liveupdateNumber) }));
  } else if (!r.rewritten) {
    console.log(`convert: ${positionals[0]} is ${r.from} with no memfd-v1 file; nothing to do`);
  } else {
    console.log(
      `convert: ${
        positionals[0]
      }: ${r.from} -> ${r.to}, ${r.sessions} sessions, ${r.files} files, ` +
        `${r.memfdConverted} memfd-v1 -> memfd-v2`,
    );
  }
  return 0;
}
