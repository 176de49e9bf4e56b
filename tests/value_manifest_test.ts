import assert from "node:assert/strict";
import { deserialize } from "node:v8";
import {
  LiveUpdate,
  MANIFEST_FORMAT,
  MemFile,
  preserveManifest,
  readManifest,
  Value,
} from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";

function handover(before: (luo: LiveUpdate) => void, after: (luo: LiveUpdate) => void) {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 8 << 20 });
    before(luo);
    luo.handover();
    using next = LiveUpdate.open(t.path, { poison: true });
    after(next);
    next.discardIncoming();
    const i = next.arena.info();
    assert.equal(i.allocatedPages + i.handedOverPages + i.deferredPages, 0, "no page left in use");
  } finally {
    t.cleanup();
  }
}

Deno.test("value-v1: a Map, an object and typed arrays come back; changes before handover included", () => {
  const state = new Value(new Map<string, unknown>([["hits", 1]]));
  handover((luo) => {
    const s = luo.createSession("svc");
    s.preserve(state, 1n);
    s.preserve(new Value({ nested: { list: [1, "two", 3n], when: new Date(0) } }), 2n);
    s.preserve(new Value(new Float64Array([1.5, 2.5])), 3n);
    state.value.set("hits", 42); // after preserve, before handover
    state.value.set("big", new Uint8Array(100_000).fill(7));
  }, (next) => {
    const s = next.retrieveSession("svc");
    const m = (s.retrieve(1n) as Value<Map<string, unknown>>).value;
    assert.equal(m.get("hits"), 42);
    assert.equal((m.get("big") as Uint8Array).length, 100_000);
    assert.deepEqual((s.retrieve(2n) as Value).value, {
      nested: { list: [1, "two", 3n], when: new Date(0) },
    });
    assert.deepEqual([...(s.retrieve(3n) as Value<Float64Array>).value], [1.5, 2.5]);
    s.finish();
  });
});

Deno.test("value-v1: an uncloneable value fails the handover cleanly; a retry succeeds", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    const v = new Value<unknown>({ f: () => 1 });
    luo.createSession("svc").preserve(v, 1n);
    const before = luo.arena.info().allocatedPages;
    assertCode(
      () => luo.handover(),
      "EINVAL",
      /session "svc" token 1: handler "value-v1" freeze failed: the value cannot be cloned/,
    );
    assert.equal(luo.arena.info().allocatedPages, before);
    v.value = { ok: true };
    luo.handover();
    using next = LiveUpdate.open(t.path);
    assert.deepEqual((next.retrieveSession("svc").retrieve(1n) as Value).value, { ok: true });
  } finally {
    t.cleanup();
  }
});

Deno.test("value-v1: an unretrieved value is freed at finish; damaged bytes are a typed error", () => {
  handover((luo) => luo.createSession("svc").preserve(new Value([1, 2, 3]), 5n), (next) => {
    next.retrieveSession("svc").finish();
  });
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    luo.createSession("svc").preserve(new Value("x".repeat(5000)), 5n);
    luo.handover();
    // Find the serialized string in the file and break its v8 header.
    const bytes = Deno.readFileSync(t.path);
    const at = bytes.findIndex((b, i) =>
      b === 0x78 && bytes[i + 1] === 0x78 && bytes[i + 2] === 0x78
    );
    let start = at;
    while (start > 0 && (start % 4096) !== 0) start--;
    assert.doesNotThrow(() => deserialize(bytes.subarray(start, start + 5100)));
    bytes[start] = 0xee;
    bytes[start + 1] = 0xee;
    Deno.writeFileSync(t.path, bytes);
    using next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("svc");
    assertCode(
      () => s.retrieve(5n),
      "EBADMSG",
      /value: the v8 data cannot be decoded .* \(at 0x[0-9a-f]+\)/,
    );
    s.finish();
    next.releaseUnclaimed();
    next.discardIncoming();
    const i = next.arena.info();
    assert.equal(i.allocatedPages + i.handedOverPages + i.deferredPages, 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("manifest: written at token 0, read back; unknown kinds skipped; newer formats refused", () => {
  handover((luo) => {
    const s = luo.createSession("svc");
    preserveManifest(s, luo.arena, {
      service: "cache",
      generation: 3,
      entries: { "1": { kind: "kv-values", version: 1 }, "2": { kind: "future-thing" } },
    });
    s.preserve(MemFile.from(luo.arena, new Uint8Array([1])), 1n);
    s.preserve(MemFile.from(luo.arena, new Uint8Array([2])), 2n);
    const t = luo.createSession("newer");
    t.preserve(
      MemFile.from(
        luo.arena,
        new TextEncoder().encode(JSON.stringify({ format: MANIFEST_FORMAT + 1, entries: {} })),
      ),
      0n,
    );
    luo.createSession("junk").preserve(
      MemFile.from(luo.arena, new TextEncoder().encode("{not json")),
      0n,
    );
  }, (next) => {
    const s = next.retrieveSession("svc");
    const { manifest, skipped } = readManifest(s, ["kv-values"]);
    assert.equal(manifest.format, MANIFEST_FORMAT);
    assert.equal(manifest.generation, 3);
    assert.deepEqual(Object.keys(manifest.entries), ["1"]);
    assert.deepEqual(skipped, [{ token: "2", kind: "future-thing" }]);
    for (const t of [1n, 2n]) s.retrieve(t, MemFile).close();
    s.finish();
    const n = next.retrieveSession("newer");
    assertCode(
      () => readManifest(n, []),
      "EPROTO",
      /manifest format 2 is newer than this build reads \(1\)/,
    );
    n.finish();
    const j = next.retrieveSession("junk");
    assertCode(() => readManifest(j, []), "EBADMSG", /not JSON/);
    j.finish();
  });
});
