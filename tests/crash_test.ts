// Crash mid-handover: a successor is killed with SIGKILL at random points
// of its run (many inside the handover itself); the next opener must see
// a complete generation, never a half state, and never nothing.
import assert from "node:assert/strict";
import { Rng } from "../testing/rng.ts";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/crash_gen.ts", import.meta.url);
const KILLS = 24;

/** Where a kill strikes: at a random time, a random moment after "handover-start", or at "finished". */
type KillPoint = "any" | "handover" | "finished";

/** The output of a child read until it prints `marker` (or exits). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  out: string,
  marker: string,
): Promise<string> {
  while (!out.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  return out;
}

/** Runs gen2 in `mode` on `path`, kills it at `point`; returns what it printed. */
async function killGen2(path: string, mode: string, point: KillPoint, rng: Rng): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD.pathname, "gen2", path, mode],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* it exited already */ }
  };
  const deadline = setTimeout(kill, point === "any" ? rng.int(160) : 20_000);
  let out = "";
  if (mode === "finish-all") out = await readUntil(reader, out, "finished");
  // At "finished" it waits for stdin: the kill strikes after finish, before the handover.
  if (point === "finished") kill();
  else {
    const w = child.stdin.getWriter();
    await w.write(new Uint8Array([10])).catch(() => {/* killed already ("any") */});
    await w.close().catch(() => {});
  }
  if (point === "handover") {
    out = await readUntil(reader, out, "handover-start");
    await new Promise((r) => setTimeout(r, rng.int(8)));
    kill();
  }
  out = await readUntil(reader, out, "\u0000"); // to the end
  await child.status;
  clearTimeout(deadline);
  return out;
}

/** Kills gen2 `KILLS` times (at `points`, in turn) and checks each restart. */
async function killRuns(mode: string, points: KillPoint[], seed: number) {
  const t = tempArena();
  const rng = new Rng(seed);
  const seen = { before: 0, finished: 0, during: 0, after: 0, gen1: 0, gen2: 0 };
  try {
    const base = `${t.dir}/gen1.arena`;
    await runOk(CHILD, ["gen1", base]);
    for (let k = 0; k < KILLS; k++) {
      const path = `${t.dir}/kill-${k}.arena`;
      Deno.copyFileSync(base, path);
      const point = points[k % points.length];
      const out = await killGen2(path, mode, point, rng);
      if (out.includes("done")) seen.after++;
      else if (out.includes("handover-start")) seen.during++;
      else if (out.includes("finished")) seen.finished++;
      else seen.before++;
      const r = await runOk(CHILD, ["check", path]);
      const state = JSON.parse(r.stdout).state as "gen1" | "gen2" | "none";
      assert.ok(state === "gen1" || state === "gen2", `kill ${k} (${point}): ${state}`);
      seen[state]++;
      // A completed handover always leaves generation 2; one never started, generation 1.
      if (out.includes("done")) assert.equal(state, "gen2", `kill ${k}`);
      if (!out.includes("handover-start")) assert.equal(state, "gen1", `kill ${k}`);
      Deno.removeSync(path);
    }
    if (Deno.env.get("LUO_VERBOSE")) console.log(`${mode} kill points:`, seen);
    return seen;
  } finally {
    t.cleanup();
  }
}

Deno.test("crash: SIGKILL at random points of a handover never leaves a half state", async () => {
  const seen = await killRuns("keep-last", ["handover", "any"], 42);
  assert.ok(seen.during + seen.before > 0, JSON.stringify(seen));
  assert.ok(seen.gen1 > 0, `no kill left generation 1: ${JSON.stringify(seen)}`);
});

Deno.test("crash: a successor that finished every session and is killed before or during its handover leaves generation 1 or 2", async () => {
  const seen = await killRuns("finish-all", ["finished", "handover", "handover"], 43);
  assert.equal(seen.finished, KILLS / 3, `every third kill after finish: ${JSON.stringify(seen)}`);
  assert.ok(seen.during > 0, `no kill inside the handover: ${JSON.stringify(seen)}`);
  assert.ok(seen.gen1 > seen.finished, `no handover kill left gen 1: ${JSON.stringify(seen)}`);
});
