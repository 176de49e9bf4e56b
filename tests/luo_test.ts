// Behaviour of sessions, files, handlers, handover and restore; the
// successor is the same test process reopening the handed-over arena
// (tests/luo_handover_test.ts does it across real processes).
import assert from "node:assert/strict";
import { type AnyFileHandler, type FileHandler, LiveUpdate, LuoError, MemFile } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Runs `before` in a fresh live update, hands over, and gives the successor to `after`. */
function handover(
  before: (luo: LiveUpdate) => void,
  after: (luo: LiveUpdate) => void,
  handlers: AnyFileHandler[] = [],
) {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 8 << 20, handlers });
    before(luo);
    luo.handover();
    using next = LiveUpdate.open(t.path, { poison: true, handlers });
    after(next);
  } finally {
    t.cleanup();
  }
}

/**
 * Pages in use once the predecessor's image is given up (until then, the
 * pages it published stay parked so that a crash of this process still
 * finds them).
 */
function pagesInUse(luo: LiveUpdate): number {
  luo.discardIncoming();
  const i = luo.arena.info();
  return i.allocatedPages + i.handedOverPages + i.deferredPages;
}

Deno.test("selftest: a duplicate session name is EEXIST; the name is free again after close", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  const s = luo.createSession("dup");
  assertCode(() => luo.createSession("dup"), "EEXIST", /"dup" already exists/);
  s.close();
  luo.createSession("dup");
});

Deno.test("session names: empty, 64 bytes and a NUL are EINVAL; 63 bytes is fine", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  assertCode(() => luo.createSession(""), "EINVAL", /empty/);
  assertCode(() => luo.createSession("x".repeat(64)), "EINVAL", /64 bytes, at most 63/);
  assertCode(() => luo.createSession("a\0b"), "EINVAL", /NUL/);
  assertCode(() => luo.createSession("é".repeat(32)), "EINVAL", /64 bytes/);
  luo.createSession("x".repeat(63));
});

Deno.test("selftest: distinct sessions are handed over and retrieved by name", () => {
  handover((luo) => {
    for (const n of ["a", "b", "c"]) luo.createSession(n);
  }, (next) => {
    assert.deepEqual(next.incomingSessions(), ["a", "b", "c"]);
    assertCode(() => next.retrieveSession("d"), "ENOENT", /no incoming session "d"/);
    const b = next.retrieveSession("b");
    assertCode(() => next.retrieveSession("b"), "EINVAL", /already retrieved/);
    // Outgoing names are a separate name space.
    next.createSession("b");
    b.finish();
    assert.deepEqual(next.incomingSessions(), ["a", "c"]);
    assert.deepEqual(next.releaseUnclaimed().sessions, ["a", "c"]);
    // Only the new outgoing session's block (2 pages) is in use.
    assert.equal(next.arena.info().handedOverPages, 0);
    assert.equal(pagesInUse(next), 2);
    next.session("b").close();
    assert.equal(pagesInUse(next), 0);
  });
});

Deno.test("selftest: preserve one memfd: bytes, size and position come back zero-copy", () => {
  const text = "the quick brown fox";
  let pa = 0n;
  handover((luo) => {
    const f = MemFile.from(luo.arena, enc.encode(text));
    f.position = 4;
    pa = f.extents[0].pa;
    luo.createSession("one").preserve(f, 42n);
  }, (next) => {
    const s = next.retrieveSession("one");
    const f = s.retrieve(42n, MemFile);
    assert.equal(dec.decode(f.bytes()), text);
    assert.equal(f.size, text.length);
    assert.equal(f.position, 4);
    assert.equal(f.extents[0].pa, pa, "same pages: no copy");
    assert.equal(s.retrieve(42n), f, "a second retrieve returns the same object");
    assertCode(() => s.retrieve(43n), "ENOENT", /no file with token 43/);
    s.finish();
    s.finish(); // no-op
    f.close();
    assert.equal(pagesInUse(next), 0);
  });
});

Deno.test("selftest: several memfds, several sessions, empty and non-empty files", () => {
  const content = (
    s: number,
    f: number,
  ) => (f % 3 === 0 ? "" : `session ${s} file ${f} `.repeat(f * 50));
  handover((luo) => {
    for (let s = 0; s < 4; s++) {
      const sess = luo.createSession(`s${s}`);
      for (let f = 0; f < (s === 2 ? 0 : 7); f++) {
        sess.preserve(MemFile.from(luo.arena, enc.encode(content(s, f))), BigInt(f * 10));
      }
    }
  }, (next) => {
    assert.deepEqual(next.incomingSessions(), ["s0", "s1", "s2", "s3"]);
    for (let s = 0; s < 4; s++) {
      const sess = next.retrieveSession(`s${s}`);
      assert.equal(sess.fileCount, s === 2 ? 0 : 7);
      for (const [f, token] of sess.tokens().entries()) {
        assert.equal(token, BigInt(f * 10));
        assert.equal(sess.compatible(token), "memfd-v2");
        const m = sess.retrieve(token, MemFile);
        assert.equal(dec.decode(m.read()), content(s, f));
        m.close();
      }
      sess.finish();
    }
    assert.equal(pagesInUse(next), 0);
  });
});

Deno.test("selftest: an object no handler supports is ENOENT; nothing is allocated", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  const s = luo.createSession("x");
  const before = luo.arena.info().allocatedPages;
  assertCode(
    () => s.preserve({ some: "object" }, 1n),
    "ENOENT",
    /no handler accepts this object \(Object\)/,
  );
  assertCode(() => s.preserve(new Uint8Array(4), 1n), "ENOENT", /Uint8Array/);
  assert.equal(luo.arena.info().allocatedPages, before);
  assert.equal(s.fileCount, 0);
});

Deno.test("preserve checks in order: token, cap, handler, already preserved, handler error", () => {
  using luo = LiveUpdate.create({ size: 1 << 20, maxBlocks: 1 });
  const a = luo.createSession("a");
  const b = luo.createSession("b");
  const f = MemFile.from(luo.arena, enc.encode("x"));
  a.preserve(f, 1n);
  // The token check comes before the handler check.
  assertCode(() => a.preserve({}, 1n), "EEXIST", /token already used/);
  assertCode(() => b.preserve(f, 1n), "EBUSY", /already preserved in session "a"/);
  assertCode(() => a.preserve(f, -1), "EINVAL", /token -1 is not a non-negative safe integer/);
  for (let t = 2; t <= 127; t++) a.preserve(MemFile.create(luo.arena), t);
  // Cap before handler: an unsupported object still gets ENOSPC here.
  assertCode(() => a.preserve({}, 500n), "ENOSPC", /cap of 1 file blocks/);
  // A preserved memfd cannot change size; it can after unpreserve.
  assertCode(() => f.resize(100), "EPERM", /preserved/);
  a.unpreserve(1n);
  f.resize(100);
  assertCode(() => a.unpreserve(1n), "ENOENT");
});

Deno.test("closing an outgoing session unpreserves its files newest first and frees the blocks", () => {
  using luo = LiveUpdate.create({ size: 4 << 20 });
  const order: bigint[] = [];
  const handler = recordingHandler("rec-v1", { onUnpreserve: (t) => order.push(t) });
  luo.registerHandler(handler);
  const base = luo.arena.info().allocatedPages;
  const s = luo.createSession("s");
  for (let t = 0n; t < 200n; t++) s.preserve({ rec: t }, t);
  const f = MemFile.from(luo.arena, enc.encode("still usable"));
  s.preserve(f, 1000n);
  s.close();
  assert.deepEqual(order, Array.from({ length: 200 }, (_, i) => BigInt(199 - i)));
  assert.equal(dec.decode(f.bytes()), "still usable");
  f.close();
  assert.equal(luo.arena.info().allocatedPages, base);
  assert.deepEqual(luo.sessions(), []);
});

/** A handler for `{ rec: token }` objects, with hooks and failure injection. */
function recordingHandler(compatible: string, hooks: {
  onUnpreserve?: (t: bigint) => void;
  failFreezeAt?: bigint;
  log?: string[];
  canFinish?: () => boolean;
} = {}): FileHandler<{ rec: bigint }> {
  return {
    compatible,
    canPreserve: (_c, o) => typeof o === "object" && o !== null && "rec" in o,
    preserve: (_c, f) => f.obj.rec,
    unpreserve: (_c, f) => hooks.onUnpreserve?.(f.obj.rec),
    freeze: (_c, f) => {
      if (f.obj.rec === hooks.failFreezeAt) {
        throw new LuoError("EIO", `freeze of ${f.obj.rec} refused`);
      }
      hooks.log?.push(`freeze ${f.obj.rec}`);
    },
    unfreeze: (_c, f) => void hooks.log?.push(`unfreeze ${f.obj.rec}`),
    retrieve: (_c, f) => ({ rec: f.data }),
    canFinish: () => hooks.canFinish?.() ?? true,
    finish: (_c, f) =>
      void hooks.log?.push(
        `finish ${f.data} ${f.status === "retrieved" ? "retrieved" : "discarded"}`,
      ),
  };
}

Deno.test("freeze rollback: a failure at the Nth file unfreezes, hands nothing over, and a retry succeeds", () => {
  const t = tempArena();
  try {
    const log: string[] = [];
    const hooks = { failFreezeAt: 5n as bigint | undefined, log };
    const luo = LiveUpdate.create({
      path: t.path,
      size: 4 << 20,
      handlers: [recordingHandler("rec-v1", hooks)],
    });
    const s1 = luo.createSession("first");
    for (let i = 0n; i < 3n; i++) s1.preserve({ rec: i }, i);
    const s2 = luo.createSession("second");
    for (let i = 3n; i < 8n; i++) s2.preserve({ rec: i }, i);
    const before = luo.arena.info();
    assertCode(() => luo.handover(), "EIO", /freeze of 5 refused/);
    assert.deepEqual(log, [
      "freeze 0",
      "freeze 1",
      "freeze 2",
      "freeze 3",
      "freeze 4",
      "unfreeze 3",
      "unfreeze 4",
      "unfreeze 0",
      "unfreeze 1",
      "unfreeze 2",
    ]);
    assert.deepEqual(luo.arena.info(), before, "no page changed hands");
    // Nothing was published in the file.
    const view = Deno.readFileSync(t.path).subarray(32, 40);
    assert.ok(view.every((b) => b === 0), "fdt_pa is still 0");
    hooks.failFreezeAt = undefined;
    log.length = 0;
    const summary = luo.handover();
    assert.equal(summary.files, 8);
    assert.equal(summary.liveupdateNumber, 1n);
    using next = LiveUpdate.open(t.path, { handlers: [recordingHandler("rec-v1", { log })] });
    const s = next.retrieveSession("second");
    assert.deepEqual(s.retrieve(4n), { rec: 4n });
    s.finish();
    assert.deepEqual(log.slice(-5), [
      "finish 7 discarded",
      "finish 6 discarded",
      "finish 5 discarded",
      "finish 4 retrieved",
      "finish 3 discarded",
    ]);
  } finally {
    t.cleanup();
  }
});

Deno.test("finish is all or nothing: a file that cannot finish makes it EBUSY and nothing changes", () => {
  let allow = false;
  const log: string[] = [];
  const h = () => recordingHandler("rec-v1", { log, canFinish: () => allow });
  handover((luo) => {
    const s = luo.createSession("s");
    s.preserve({ rec: 1n }, 1n);
    s.preserve({ rec: 2n }, 2n);
  }, (next) => {
    const s = next.retrieveSession("s");
    s.retrieve(1n);
    assertCode(() => s.finish(), "EBUSY", /nothing was changed/);
    assert.equal(s.finished, false);
    assert.deepEqual(log.filter((l) => l.startsWith("finish")), []);
    allow = true;
    s.finish();
    assert.deepEqual(log.filter((l) => l.startsWith("finish")), [
      "finish 2 discarded",
      "finish 1 retrieved",
    ]);
  }, [h()]);
});

Deno.test("a failed retrieve is sticky: the same error again", () => {
  let calls = 0;
  const failing: FileHandler<{ rec: bigint }> = {
    ...recordingHandler("rec-v1"),
    retrieve: () => {
      calls++;
      throw new LuoError("EIO", "cannot rebuild");
    },
  };
  handover((luo) => luo.createSession("s").preserve({ rec: 9n }, 9n), (next) => {
    const s = next.retrieveSession("s");
    const e1 = assertCode(() => s.retrieve(9n), "EIO", /cannot rebuild/);
    const e2 = assertCode(() => s.retrieve(9n), "EIO");
    assert.equal(e1, e2);
    assert.equal(calls, 1);
    s.finish();
  }, [failing]);
});

Deno.test("handler registry: compatible length, required ops, duplicates", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  assertCode(
    () => luo.registerHandler(recordingHandler("x".repeat(48))),
    "EINVAL",
    /is 48 bytes, at most 47/,
  );
  assertCode(() => luo.registerHandler(recordingHandler("")), "EINVAL");
  assertCode(
    () => luo.registerHandler({ ...recordingHandler("ok-v1"), retrieve: undefined } as never),
    "EINVAL",
    /lacks the op retrieve/,
  );
  assertCode(
    () => luo.registerHandler({ ...recordingHandler("ok-v2"), freeze: 1 } as never),
    "EINVAL",
    /op freeze is not a function/,
  );
  assertCode(() => luo.registerHandler(recordingHandler("memfd-v1")), "EEXIST");
  luo.registerHandler(recordingHandler("x".repeat(47)));
});

Deno.test("an unknown compatible in the image is a typed EIO error on every access, and the pages can be released", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({
      path: t.path,
      size: 4 << 20,
      handlers: [recordingHandler("gone-v1")],
    });
    luo.createSession("s").preserve({ rec: 1n }, 1n);
    luo.createSession("m").preserve(MemFile.from(luo.arena, enc.encode("data")), 1n);
    luo.handover();
    using next = LiveUpdate.open(t.path);
    const e = assertCode(() => next.incomingSessions(), "EIO", /unknown compatible "gone-v1"/);
    assert.match(e.message, /at 0x[0-9a-f]+/);
    assertCode(() => next.retrieveSession("m"), "EIO", /unknown compatible/);
    assert.ok(next.arena.info().handedOverPages > 0);
    next.releaseUnclaimed();
    assert.equal(pagesInUse(next), 0);
  } finally {
    t.cleanup();
  }
});

Deno.test("generations: A -> B -> C carries a memfd forward and counts liveupdate-number", () => {
  const t = tempArena();
  try {
    const a = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    a.createSession("svc").preserve(MemFile.from(a.arena, enc.encode("gen")), 0n);
    assert.equal(a.handover().liveupdateNumber, 1n);
    for (let gen = 2n; gen <= 4n; gen++) {
      const b = LiveUpdate.open(t.path);
      assert.equal(b.incomingNumber, gen - 1n);
      const s = b.retrieveSession("svc");
      const f = s.retrieve(0n, MemFile);
      assert.equal(dec.decode(f.read()), "gen".repeat(Number(gen - 1n)));
      s.finish();
      f.position = 0;
      const g = MemFile.from(b.arena, enc.encode("gen".repeat(Number(gen))));
      f.close();
      b.createSession("svc").preserve(g, 0n);
      assert.equal(b.handover().liveupdateNumber, gen);
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("releaseUnclaimed counts every handed-over block it released, the discarded sessions' included", () => {
  const t = tempArena();
  try {
    const old = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    old.createSession("a").preserve(MemFile.from(old.arena, new Uint8Array(3 * 4096)), 1n);
    old.createSession("b").preserve(MemFile.from(old.arena, new Uint8Array(100)), 1n);
    old.handover();
    old.close();
    using luo = LiveUpdate.open(t.path);
    const before = luo.arena.info();
    assert.ok(before.handedOverPages >= 4 + 1);
    const r = luo.releaseUnclaimed();
    assert.deepEqual(r.sessions, ["a", "b"]);
    assert.equal(luo.arena.info().handedOverPages, 0);
    assert.equal(r.pages, before.handedOverPages);
    assert.equal(r.regions, before.handedOverBlocks);
  } finally {
    t.cleanup();
  }
});

Deno.test("tokens around 2^53 and at 2^64-1 stay distinct and exact through a handover", () => {
  const t = tempArena();
  try {
    const tokens = [
      2n ** 53n - 1n,
      2n ** 53n,
      2n ** 53n + 1n,
      2n ** 64n - 1n,
      2n ** 32n,
      2n ** 32n - 1n,
    ];
    const old = LiveUpdate.create({ path: t.path, size: 4 << 20 });
    const s = old.createSession("big");
    for (const [i, tok] of tokens.entries()) {
      s.preserve(MemFile.from(old.arena, new Uint8Array([i])), tok);
    }
    assertCode(() => s.preserve(MemFile.create(old.arena), 2n ** 53n + 1n), "EEXIST");
    old.handover();
    old.close();
    using luo = LiveUpdate.open(t.path);
    const got = luo.retrieveSession("big");
    assert.deepEqual(got.tokens(), tokens);
    for (const [i, tok] of tokens.entries()) {
      assert.deepEqual([...got.retrieve(tok, MemFile).read()], [i]);
    }
    got.finish();
  } finally {
    t.cleanup();
  }
});
