// LiveUpdate.start, the start of a service: creates only when no file
// exists (atomically), opens when one does, and on any other error throws
// without touching the file; a damaged image is refused or moved aside.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";

const STARTER = new URL("./children/starter.ts", import.meta.url);
const STARTERS = 50;

Deno.test(`start: ${STARTERS} racing starters: exactly one holds the arena, nothing is deleted`, async () => {
  const t = tempArena();
  try {
    const children = Array.from({ length: STARTERS }, () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", STARTER.pathname, t.path],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn());
    const lines = await Promise.all(children.map(async (c) => {
      const reader = c.stdout.getReader();
      let out = "";
      while (!out.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      return JSON.parse(out);
    }));
    const inode = Deno.statSync(t.path).ino;
    for (const c of children) await c.stdin.close();
    for (const c of children) {
      await c.stdout.cancel();
      assert.equal((await c.status).code, 0);
    }
    const holders = lines.filter((l) => l.ok);
    assert.equal(holders.length, 1, JSON.stringify(lines));
    assert.equal(holders[0].resumed, false, "the holder created it");
    for (const l of lines.filter((l) => !l.ok)) {
      assert.equal(l.code, "EBUSY", l.message);
      assert.match(l.message, /held by a live process/);
    }
    assert.equal(Deno.statSync(t.path).ino, inode, "the same file all along");
    // Nothing was handed over, so the next start opens it and resumes nothing.
    using again = LiveUpdate.start(t.path, { size: 1 << 20 });
    assert.equal(again.resumed, false);
  } finally {
    t.cleanup();
  }
});

Deno.test("start: resumes a handed-over image; other errors leave the file as it is", () => {
  const t = tempArena();
  try {
    const first = LiveUpdate.start(t.path, { size: 1 << 20 });
    assert.equal(first.resumed, false);
    first.createSession("s").preserve(MemFile.from(first.arena, new Uint8Array([1, 2, 3])), 1n);
    first.handover();
    const before = Deno.readFileSync(t.path);
    Deno.chmodSync(t.path, 0o644);
    assertCode(() => LiveUpdate.start(t.path), "EACCES", /mode 0644/);
    Deno.chmodSync(t.path, 0o600);
    assert.deepEqual(Deno.readFileSync(t.path), before, "the refused start changed nothing");
    using next = LiveUpdate.start(t.path);
    assert.equal(next.resumed, true);
    assert.deepEqual(
      next.retrieveSession("s").retrieve(1n, MemFile).read(),
      new Uint8Array([1, 2, 3]),
    );
  } finally {
    t.cleanup();
  }
});

Deno.test("start: a damaged image is refused (file untouched), or moved aside on request", () => {
  const t = tempArena();
  try {
    const first = LiveUpdate.start(t.path, { size: 1 << 20 });
    first.createSession("s").preserve(MemFile.from(first.arena, new Uint8Array([9])), 1n);
    first.handover();
    const damaged = corruptSessionCount(Deno.readFileSync(t.path));
    Deno.writeFileSync(t.path, damaged);
    assertCode(
      () => LiveUpdate.start(t.path),
      "EIO",
      /left as it is; start with damaged: "move-aside"/,
    );
    assert.deepEqual(Deno.readFileSync(t.path), damaged, "refused: nothing changed");
    using fresh = LiveUpdate.start(t.path, { size: 1 << 20, damaged: "move-aside" });
    assert.equal(fresh.resumed, false);
    assert.match(fresh.movedAside!, /\.damaged-\d+$/);
    assert.deepEqual(Deno.readFileSync(fresh.movedAside!), damaged, "kept aside, byte for byte");
  } finally {
    t.cleanup();
  }
});

/** Sets the count of the first session block to 0 (found by the name "s" of its entry). */
function corruptSessionCount(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  for (let page = 4096; page < out.length; page += 4096) {
    const dv = new DataView(out.buffer, page);
    // A session block: count 1, then the entry's name "s\0".
    if (dv.getBigUint64(8, true) === 1n && out[page + 16] === 0x73 && out[page + 17] === 0) {
      dv.setBigUint64(8, 0n, true);
      return out;
    }
  }
  throw new Error("no session block found");
}
