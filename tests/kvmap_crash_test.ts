// Crash inside a generation: a successor that retrieved a PreservedMap and
// changes it in place is killed with SIGKILL at random points; the
// predecessor's image stays published, so a restarted successor retrieves
// the map from it and must read it as before or after the operation in
// flight (a progress page in the arena says which one it was), then keep
// working on it.
import assert from "node:assert/strict";
import { PHYS_BASE } from "../kho.ts";
import { runOk } from "../testing/child_process.ts";
import { Rng } from "../testing/rng.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/kvmap_crash.ts", import.meta.url);
/** Operations before the handover: many (no growth after), or few (the index grows after). */
const GEN1_OPS = { fixed: 4000, grow: 150 };
const OPS = 20_000;
const KILLS = 24;
/** Kills that must land inside an operation (so the test is not vacuous); more kills are made until they do. */
const MIN_MID_OP = 8;
/** ... but never more kills than this. */
const MAX_KILLS = 72;

/** Starts `mutate`, kills it after a random delay once it is ready; returns its output and progress. */
async function killMutate(
  path: string,
  rng: Rng,
): Promise<{ out: string; begin: number; done: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD.pathname, "mutate", path, String(OPS)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`mutate exited before it was ready: ${out}`);
    out += new TextDecoder().decode(value);
  }
  await new Promise((r) => setTimeout(r, rng.int(120)));
  try {
    child.kill("SIGKILL");
  } catch { /* it finished first */ }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  await child.status;
  const pa = BigInt(out.match(/progress (0x[0-9a-f]+)/)![1]);
  const file = await Deno.open(path);
  const word = new Int32Array(2);
  await file.seek(Number(pa - PHYS_BASE), Deno.SeekMode.Start);
  await file.read(new Uint8Array(word.buffer));
  file.close();
  return { out, begin: word[0], done: word[1] };
}

async function campaign(grow: boolean): Promise<void> {
  const t = tempArena();
  const rng = new Rng(grow ? 8 : 7);
  const seen = { before: 0, after: 0, midOp: 0, finished: 0, grown: 0 };
  const gen1Ops = grow ? GEN1_OPS.grow : GEN1_OPS.fixed;
  try {
    const base = `${t.dir}/gen1.arena`;
    const gen1 = JSON.parse(
      (await runOk(CHILD, ["gen1", base, String(gen1Ops), grow ? "1" : "0"])).stdout,
    );
    for (let k = 0; k < MAX_KILLS && (k < KILLS || seen.midOp < MIN_MID_OP); k++) {
      const path = `${t.dir}/kill-${k}.arena`;
      Deno.copyFileSync(base, path);
      const { out, begin, done } = await killMutate(path, rng);
      if (!grow) {
        assert.ok(!out.includes("allocated by"), `kill ${k}: ${out.match(/allocated by .*/)}`);
      }
      if (out.includes("done")) seen.finished++;
      else if (begin === done) seen.midOp++;
      const r = JSON.parse(
        (await runOk(CHILD, ["check", path, String(gen1Ops), String(begin), String(done)])).stdout,
      );
      seen[r.state as "before" | "after"]++;
      if (r.slots > gen1.slots) seen.grown++;
      Deno.removeSync(path);
    }
    if (Deno.env.get("LUO_VERBOSE")) console.log(`kvmap kills (grow: ${grow}):`, seen);
    assert.ok(
      seen.midOp >= MIN_MID_OP,
      `too few kills inside an operation: ${JSON.stringify(seen)}`,
    );
  } finally {
    t.cleanup();
  }
}

Deno.test("kvmap crash: SIGKILL during in-place sets, deletes and compaction leaves before or after", async () => {
  await campaign(false);
});

Deno.test("kvmap crash: SIGKILL during growth steps (a new index, new segments) leaves before or after", async () => {
  await campaign(true);
});
