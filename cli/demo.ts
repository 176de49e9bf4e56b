/**
 * `./luo demo`: a live update end to end. Creates sessions of memfd files of
 * assorted sizes (one of 64 MiB), hands over, starts the successor as a
 * separate process that retrieves everything, verifies every byte and
 * finishes, and prints a summary table.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LiveUpdate, MemFile } from "../mod.ts";
import { UsageError } from "./errors.ts";
import { table } from "./table.ts";

export const DEMO_HELP = `usage: ./luo demo [--arena PATH] [--keep] [--json]

Runs a live update end to end: sessions of memfd files (one of 64 MiB) are
preserved and handed over; a separate successor process retrieves them,
verifies every byte, finishes them and reports.

  --arena PATH   arena file to create (default: a fresh file in the temp dir)
  --keep         leave the arena file for ./luo inspect
  --json         print the result as JSON`;

const MiB = 1 << 20;
/** Sessions and the sizes of their files. */
const PLAN: [string, number[]][] = [
  ["cache", [64 * MiB, 1 * MiB, 4096]],
  ["sessions", [100, 2000, 30_000, 0]],
  ["index", [8 * MiB + 12345]],
  ["empty", []],
];

/** Fills `b` with the pattern of file `seed` (also used to verify). */
function pattern(b: Uint8Array, seed: number): void {
  const whole = b.length >>> 2;
  const u32 = new Uint32Array(b.buffer, b.byteOffset, whole);
  for (let i = 0; i < whole; i++) u32[i] = Math.imul(i + seed, 2654435761) ^ seed;
  for (let i = whole * 4; i < b.length; i++) b[i] = (i * 7 + seed) & 0xff;
}

function matches(b: Uint8Array, seed: number): number {
  const want = new Uint8Array(b.length);
  pattern(want, seed);
  for (let i = 0; i < b.length; i++) if (b[i] !== want[i]) return i;
  return -1;
}

/** What the successor reports. */
interface SuccessorReport {
  sessions: number;
  files: number;
  bytes: number;
  restoreMs: number;
  verifyMs: number;
  mismatches: string[];
  pagesLeaked: number;
  liveupdateNumber: string;
}

/** Runs the demo; returns the exit code. */
export async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      arena: { type: "string" },
      keep: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const total = PLAN.reduce((a, [, sizes]) => a + sizes.reduce((x, y) => x + y, 0), 0);
  const size = 2 ** Math.ceil(Math.log2(total * 2 + 16 * MiB));
  if (values.arena) {
    try {
      Deno.statSync(values.arena);
      throw new UsageError(`demo: --arena ${values.arena} already exists; give a new path`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const luo = LiveUpdate.create({ path: values.arena, size });
  const path = luo.arena.path;
  try {
    let seed = 1;
    for (const [name, sizes] of PLAN) {
      const s = luo.createSession(name);
      for (const [j, n] of sizes.entries()) {
        const f = MemFile.create(luo.arena, n);
        if (n > 0) pattern(f.bytes(), seed);
        f.position = n >>> 1;
        s.preserve(f, BigInt(j));
        seed++;
      }
    }
    const t0 = performance.now();
    const summary = luo.handover();
    const handoverMs = performance.now() - t0;
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli.ts", import.meta.url).href,
        "__demo_successor",
        path,
        values.keep ? "keep" : "",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    let report: SuccessorReport;
    try {
      report = JSON.parse(text);
    } catch {
      console.error(`luo: demo: the successor failed (exit ${out.code}): ${text.trim()}`);
      return 1;
    }
    const result = {
      arena: values.keep ? path : undefined,
      predecessorPid: Deno.pid,
      sessions: summary.sessions,
      files: summary.files,
      bytesHandedOver: total,
      handoverMs: round(handoverMs),
      restoreMs: round(report.restoreMs),
      verifyMs: round(report.verifyMs),
      bytesVerified: report.bytes,
      mismatches: report.mismatches.length,
      pagesLeaked: report.pagesLeaked,
      liveupdateNumber: report.liveupdateNumber,
    };
    if (values.json) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(table(["what", "value"], [
        ["sessions", String(result.sessions)],
        ["files", String(result.files)],
        ["bytes handed over", `${total} (${(total / MiB).toFixed(1)} MiB)`],
        ["time to hand over", `${result.handoverMs} ms`],
        ["time to restore (successor)", `${result.restoreMs} ms`],
        ["bytes verified (successor)", `${report.bytes} in ${result.verifyMs} ms`],
        ["mismatches", String(result.mismatches)],
        ["pages leaked", String(result.pagesLeaked)],
        ["liveupdate-number", result.liveupdateNumber],
      ]));
      if (values.keep) {
        console.log(
          `arena kept at ${path}: the successor handed the same files over again (./luo inspect ${path})`,
        );
      }
    }
    for (const m of report.mismatches.slice(0, 10)) console.error(`luo: demo: ${m}`);
    return report.mismatches.length === 0 && report.pagesLeaked === 0 && out.code === 0 ? 0 : 1;
  } finally {
    luo.close();
    if (!values.keep) Deno.removeSync(path);
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The successor: restores, verifies, finishes; prints a JSON report. */
export function demoSuccessor(path: string, keep: boolean): number {
  const mismatches: string[] = [];
  let bytes = 0;
  let files = 0;
  const t0 = performance.now();
  const luo = LiveUpdate.open(path);
  const restored = PLAN.map(([name]) => {
    const session = luo.retrieveSession(name);
    return { session, files: session.tokens().map((t) => session.retrieve(t, MemFile)) };
  });
  const restoreMs = performance.now() - t0;
  const t1 = performance.now();
  let seed = 1;
  for (const [i, [name, sizes]] of PLAN.entries()) {
    const got = restored[i].files;
    if (got.length !== sizes.length) {
      mismatches.push(`session ${name}: ${got.length} files, want ${sizes.length}`);
    }
    for (const [j, n] of sizes.entries()) {
      const f = got[j];
      if (!f) continue;
      files++;
      if (f.size !== n) mismatches.push(`${name}/${j}: size ${f.size}, want ${n}`);
      if (f.position !== n >>> 1) {
        mismatches.push(`${name}/${j}: position ${f.position}, want ${n >>> 1}`);
      }
      const at = f.size === n && n > 0 ? matches(f.bytes(), seed) : -1;
      if (at >= 0) mismatches.push(`${name}/${j}: byte ${at} differs`);
      bytes += f.size;
      seed++;
    }
  }
  const verifyMs = performance.now() - t1;
  const liveupdateNumber = String(luo.incomingNumber);
  // Done restoring: finish every session. The retrieved files now belong to
  // this process; every other page in use would be a leak.
  for (const { session } of restored) session.finish();
  // Every session is finished: give the predecessor's image up (its pages
  // are parked until then, so that a crash before here would still find it).
  luo.discardIncoming();
  const owned = restored.flatMap((r) => r.files).reduce(
    (a, f) => a + f.extents.reduce((x, e) => x + e.pages, 0),
    0,
  );
  const info = luo.arena.info();
  const pagesLeaked = info.allocatedPages + info.handedOverPages + info.deferredPages - owned;
  if (keep) {
    // Carry the same files, without copying, into the next generation so that
    // the arena left behind shows a handed-over state.
    for (const [i, [name]] of PLAN.entries()) {
      const s = luo.createSession(name);
      for (const [j, f] of restored[i].files.entries()) s.preserve(f, BigInt(j));
    }
    luo.handover();
  } else {
    for (const f of restored.flatMap((r) => r.files)) f.close();
  }
  const report: SuccessorReport = {
    sessions: restored.length,
    files,
    bytes,
    restoreMs,
    verifyMs,
    mismatches,
    pagesLeaked,
    liveupdateNumber,
  };
  luo.close();
  console.log(JSON.stringify(report));
  return mismatches.length ? 1 : 0;
}
