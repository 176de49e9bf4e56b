// Crash mid-handover: a successor is killed with SIGKILL at random points
// of its run (many inside the handover itself); the next opener must see
// a complete generation, never a half state.
import assert from "node:assert/strict";
import { Rng } from "../testing/rng.ts";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/crash_gen.ts", import.meta.url);
const KILLS = 24;

Deno.test("crash: SIGKILL at random points of a handover never leaves a half state", async () => {
  const t = tempArena();
  const rng = new Rng(42);
  const seen = { before: 0, during: 0, after: 0, gen1: 0, gen2: 0, none: 0 };
  try {
    const base = `${t.dir}/gen1.arena`;
    await runOk(CHILD, ["gen1", base]);
    for (let k = 0; k < KILLS; k++) {
      const path = `${t.dir}/kill-${k}.arena`;
      Deno.copyFileSync(base, path);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CHILD.pathname, "gen2", path],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.getReader();
      let out = "";
      // Half of the kills wait for the handover to start, half strike at any time.
      const inHandover = k % 2 === 0;
      const kill = () => {
        try {
          child.kill("SIGKILL");
        } catch { /* it exited already */ }
      };
      const deadline = setTimeout(kill, inHandover ? 20_000 : rng.int(160));
      if (inHandover) {
        while (!out.includes("handover-start")) {
          const { value, done } = await reader.read();
          if (done) break;
          out += new TextDecoder().decode(value);
        }
        await new Promise((r) => setTimeout(r, rng.int(8)));
        kill();
      }
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      await child.status;
      clearTimeout(deadline);
      if (out.includes("done")) seen.after++;
      else if (out.includes("handover-start")) seen.during++;
      else seen.before++;
      const r = await runOk(CHILD, ["check", path]);
      const state = JSON.parse(r.stdout).state as "gen1" | "gen2" | "none";
      assert.ok(["gen1", "gen2"].includes(state), `kill ${k}: ${state}`);
      seen[state]++;
      // A completed handover always leaves generation 2.
      if (out.includes("done")) assert.equal(state, "gen2", `kill ${k}`);
      Deno.removeSync(path);
    }
    if (Deno.env.get("LUO_VERBOSE")) console.log("kill points:", seen);
    assert.ok(seen.during + seen.before > 0, JSON.stringify(seen));
    assert.ok(seen.gen1 > 0, `no kill left generation 1: ${JSON.stringify(seen)}`);
  } finally {
    t.cleanup();
  }
});
