// The cache server as a successor, given a handed-over manifest it cannot
// fully use: a newer format (it stops with the reason and leaves the image
// published for a build that reads it: no empty start that would hand an
// empty map over later) and an unknown entry (it warns, skips it, and
// keeps the rest).
import assert from "node:assert/strict";
import { LiveUpdate, MemFile, PreservedMap, preserveManifest } from "../mod.ts";
import { freePort, serverArgs } from "../examples/cache-server/scenario.ts";
import { tempArena } from "../testing/temp_arena.ts";

/** A successor that stopped before it was ready: its exit code and what it printed. */
interface Refusal {
  code: number;
  stdout: string;
}

/** Starts server.ts as a successor of the arena and says "go"; returns how it failed. */
async function refusingSuccessor(path: string): Promise<Refusal> {
  const child = successorProcess(path).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  const out = await child.output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

function successorProcess(path: string, port = freePort()): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    // A small capacity: the test arena is 64 MiB.
    args: serverArgs(port, path, 1 << 20, "--successor", "--generation", "2"),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Starts server.ts as a successor of the arena, says "go", returns its stats and stderr. */
async function successor(
  path: string,
): Promise<{ stats: Record<string, unknown>; stderr: string; value?: string }> {
  const port = freePort();
  const child = successorProcess(path, port).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const until = async (word: string) => {
    while (!text.includes(word)) {
      const { value, done } = await out.read();
      if (done) throw new Error(`server exited before "${word}": ${text}`);
      text += value;
    }
  };
  await until('"listening"');
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  await until('"ready"');
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const stats = await (await fetch(`http://127.0.0.1:${port}/stats`, { client })).json();
  const res = await fetch(`http://127.0.0.1:${port}/kv/kept`, { client });
  const value = res.status === 200 ? await res.text() : (await res.body?.cancel(), undefined);
  await (await fetch(`http://127.0.0.1:${port}/admin/stop`, { method: "POST", client })).body
    ?.cancel();
  client.close();
  out.releaseLock();
  await child.stdout.cancel().catch(() => {});
  await child.status;
  return {
    stats,
    stderr: new TextDecoder().decode(
      (await new Response(child.stderr).arrayBuffer()) as ArrayBuffer,
    ),
    value,
  };
}

Deno.test("cache server: a newer manifest format stops the successor; the image stays published", async () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 64 << 20 });
    const s = luo.createSession("cache-server");
    const doc = { format: 99, service: "cache-server", generation: 1, entries: {} };
    s.preserve(MemFile.from(luo.arena, new TextEncoder().encode(JSON.stringify(doc))), 0n);
    luo.handover();
    const r = await refusingSuccessor(t.path);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /"event":"error".*EPROTO: .*manifest format 99 is newer than this build reads \(1\)/,
    );
    // Nothing was finished or handed over: a build that reads format 99 still finds it.
    using next = LiveUpdate.open(t.path);
    assert.equal(next.incomingNumber, 1n);
    const file = next.retrieveSession("cache-server").retrieve(0n, MemFile);
    assert.equal(JSON.parse(new TextDecoder().decode(file.read())).format, 99);
  } finally {
    t.cleanup();
  }
});

Deno.test("cache server: an unknown manifest entry is skipped with a warning; the rest is kept", async () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 64 << 20 });
    const map = PreservedMap.create(luo.arena);
    map.set("kept", new TextEncoder().encode("still here"));
    const s = luo.createSession("cache-server");
    s.preserve(map, 1n);
    // A newer generation's extra state, unknown to this build.
    s.preserve(MemFile.from(luo.arena, new Uint8Array([1, 2, 3])), 9n);
    preserveManifest(s, luo.arena, {
      service: "cache-server",
      generation: 1,
      entries: {
        "1": { kind: "kv-map", version: 1, meta: { keys: 1 } },
        "9": { kind: "kv-bloom-filter", version: 1 },
      },
    });
    luo.handover();
    const r = await successor(t.path);
    assert.equal(r.stats.keys, 1);
    assert.equal(r.value, "still here");
    assert.match(r.stderr, /warning: skipped unknown manifest entry 9:kv-bloom-filter/);
  } finally {
    t.cleanup();
  }
});
