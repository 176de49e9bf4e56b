// The cache server under a steady load, upgraded three times in a row
// (generations 1 -> 2 -> 3 -> 4): zero failed requests, every key reads back
// as written, liveupdate-number counts the handovers.
import assert from "node:assert/strict";
import { runScenario } from "../examples/cache-server/scenario.ts";
import { runDeno } from "../testing/child_process.ts";

Deno.test("cache server: three zero-downtime upgrades under load keep every key", async () => {
  const r = await runScenario({
    keys: 3000,
    valueSize: 100,
    upgrades: 3,
    concurrency: 4,
    mode: "luo",
    gapMs: 300,
    maxRequests: 40_000,
    maxMs: 60_000,
  });
  assert.equal(r.failures, 0, r.failureSamples.join("\n"));
  assert.equal(r.keyMismatches, 0, r.failureSamples.join("\n"));
  assert.ok(r.keysVerified >= 3000, `${r.keysVerified} keys verified`);
  assert.ok(r.requests > 500, `${r.requests} requests`);
  assert.ok(r.upgradeRequests > 0, "requests were sent during the upgrades");
  assert.equal(r.finalGeneration, 4);
  // Generation g was handed over by handover number g - 1.
  assert.equal(r.finalLiveupdateNumber, "3");
  assert.deepEqual(r.upgrades.map((u) => [u.from, u.to, u.liveupdateNumber]), [[1, 2, "1"], [
    2,
    3,
    "2",
  ], [3, 4, "3"]]);
});

Deno.test("cli: example cache-server --help and a bad example name", async () => {
  const cli = new URL("../dev/cli.ts", import.meta.url);
  const help = await runDeno(cli, ["example", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: \.\/luo example cache-server/);
  const bad = await runDeno(cli, ["example", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown example "nope"/);
});
