// A successor SIGKILLed at any point before its own handover commits (after
// retrieve, after writing into retrieved pages, after finish) is restarted
// and finds the predecessor's image, its own writes to retrieved pages
// included: the image stays published until the successor's handover (or an
// explicit discardIncoming). Kills during the handover itself are in
// tests/crash_test.ts.
import assert from "node:assert/strict";
import { LiveUpdate } from "../mod.ts";
import { runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/successor_crash.ts", import.meta.url);

/** Runs the successor until it prints `point`, then SIGKILLs it. */
async function killAt(path: string, point: string): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD.pathname, "succ", path, point],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.split("\n").includes(point)) {
    const { value, done } = await reader.read();
    if (done) break;
    out += new TextDecoder().decode(value);
  }
  child.kill("SIGKILL");
  reader.releaseLock();
  await child.stdout.cancel();
  const status = await child.status;
  assert.equal(status.signal, "SIGKILL", `the successor was killed at "${point}": ${out}`);
}

for (const point of ["retrieved", "written", "finished"]) {
  Deno.test(`successor crash: SIGKILL after "${point}" leaves the predecessor's image`, async () => {
    const t = tempArena();
    try {
      await runOk(CHILD, ["gen1", t.path]);
      await killAt(t.path, point);
      const found = JSON.parse((await runOk(CHILD, ["check", t.path])).stdout);
      assert.deepEqual(
        { ...found, marker: undefined },
        { number: "1", sessions: 4, files: 200, wrong: [], marker: undefined },
      );
      // Its own writes to the retrieved pages are there once it wrote them.
      assert.equal(found.marker, point !== "retrieved");
    } finally {
      t.cleanup();
    }
  });
}

Deno.test("successor crash: after discardIncoming a restart finds nothing handed over", async () => {
  const t = tempArena();
  try {
    await runOk(CHILD, ["gen1", t.path]);
    const luo = LiveUpdate.open(t.path);
    for (const name of luo.incomingSessions()) luo.retrieveSession(name).finish();
    const r = luo.discardIncoming();
    assert.deepEqual(r.sessions, []);
    luo.close(); // as a crash would: no handover
    using next = LiveUpdate.open(t.path);
    assert.equal(next.hasIncoming, false);
    assert.equal(next.arena.info().handovers, 1n, "the handover count is kept");
  } finally {
    t.cleanup();
  }
});
