// The cache server when an upgrade cannot hand over (its arena is full):
// it answers the upgrade with the error, kills the successor it started,
// and goes on serving every key it had.
import assert from "node:assert/strict";
import { freePort, serverArgs } from "../examples/cache-server/scenario.ts";
import { tempArena } from "../testing/temp_arena.ts";

/** PUTs values of `size` bytes until the server says the arena is full (507); returns the keys stored. */
async function fillUp(base: string, client: Deno.HttpClient, size: number, prefix: string) {
  const keys: string[] = [];
  for (let i = 0; i < 100_000; i++) {
    const res = await fetch(`${base}/kv/${prefix}-${i}`, {
      method: "PUT",
      body: new Uint8Array(size).fill(i & 0xff),
      client,
    });
    await res.body?.cancel();
    if (res.status === 507) return keys;
    assert.equal(res.status, 204);
    keys.push(`${prefix}-${i}`);
  }
  throw new Error(`the arena never filled up with ${size}-byte values`);
}

function running(pattern: string): boolean {
  const out = new Deno.Command("pgrep", { args: ["-f", pattern], stdout: "piped" }).outputSync();
  return new TextDecoder().decode(out.stdout).trim().length > 0;
}

Deno.test("cache server: an upgrade that cannot hand over keeps serving; its successor is gone", async () => {
  const t = tempArena();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: serverArgs(port, t.path, 1 << 20),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  child.status.then(() => (exited = true));
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const base = `http://127.0.0.1:${port}`;
  try {
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    for (let text = ""; !text.includes('"ready"');) {
      const { value, done } = await out.read();
      if (done) throw new Error(`server exited: ${text}`);
      text += value;
    }
    out.releaseLock();
    const keys = [
      ...await fillUp(base, client, 1 << 20, "big"),
      ...await fillUp(base, client, 4096, "page"),
      ...await fillUp(base, client, 10, "tiny"),
    ];
    const up = await (await fetch(`${base}/admin/upgrade`, { method: "POST", client })).json();
    assert.match(String(up.error), /upgrade failed, still serving: .*ENOMEM/);
    assert.equal(
      running(`--arena ${t.path} --capacity`) && running("--successor --generation 2"),
      false,
      "the successor was killed",
    );
    const stats = await (await fetch(`${base}/stats`, { client })).json();
    assert.equal(stats.generation, 1);
    assert.equal(stats.keys, keys.length);
    for (const k of [keys[0], keys[keys.length - 1]]) {
      const res = await fetch(`${base}/kv/${k}`, { client });
      assert.equal(res.status, 200, k);
      await res.body?.cancel();
    }
    await (await fetch(`${base}/admin/stop`, { method: "POST", client })).body?.cancel();
    assert.equal((await child.status).code, 0);
  } finally {
    client.close();
    if (!exited) child.kill("SIGKILL");
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
    t.cleanup();
  }
});
