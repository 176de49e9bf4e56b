// Issue 14: the LUO rules of the kernel (kernel/liveupdate/luo_file.c,
// luo_session.c, luo_core.c) that the first version bent.
import assert from "node:assert/strict";
import { failSyncAfter } from "../lib/kho/faults.ts";
import {
  type ErrorCode,
  type FileHandler,
  type IncomingFile,
  LiveUpdate,
  LuoError,
  MemFile,
  type RetrieveStatus,
  UnflushedHandoverError,
} from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";
import { writeV3Image } from "../testing/v3_image.ts";
import { inspectArena } from "../tools.ts";
import { PHYS_BASE } from "../kho.ts";

interface Rec {
  rec: bigint;
}

/** A handler for `{ rec }` objects with only the required ops; `log` records what it sees. */
function minimal(compatible: string, log: string[] = [], extra: Partial<FileHandler<Rec>> = {}) {
  const h: FileHandler<Rec> = {
    compatible,
    canPreserve: (_c, o) => typeof o === "object" && o !== null && "rec" in o,
    preserve: (_c, f) => f.obj.rec,
    unpreserve: () => {},
    retrieve: (_c, f) => {
      if (f.data === 13n) throw new LuoError("EIO", "file 13 cannot be rebuilt");
      return { rec: f.data };
    },
    finish: (_c, f) => void log.push(`finish ${f.token} ${f.status}`),
    ...extra,
  };
  return h;
}

/** Hands over with `before`, then runs `after` on the successor (same process). */
function generations(
  handlers: FileHandler<Rec>[],
  before: (luo: LiveUpdate) => void,
  after: (luo: LiveUpdate) => void,
): void {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20, handlers });
    before(luo);
    luo.handover();
    using next = LiveUpdate.open(t.path, { handlers });
    after(next);
  } finally {
    t.cleanup();
  }
}

Deno.test("kernel: canFinish and finish see every file with its retrieve status, a failed one too", () => {
  const log: string[] = [];
  const seen: [bigint, RetrieveStatus][] = [];
  const h = minimal("status-v1", log, {
    canFinish: (_c, f: IncomingFile<Rec>) => (seen.push([f.token, f.status]), true),
  });
  generations([h], (luo) => {
    const s = luo.createSession("s");
    for (const t of [11n, 12n, 13n]) s.preserve({ rec: t }, t);
  }, (next) => {
    const s = next.retrieveSession("s");
    assert.deepEqual(s.retrieve(11n), { rec: 11n });
    assertCode(() => s.retrieve(13n), "EIO", /cannot be rebuilt/);
    s.finish();
    assert.deepEqual(seen, [[11n, "retrieved"], [12n, "none"], [13n, "failed"]]);
    assert.deepEqual(log, ["finish 13 failed", "finish 12 none", "finish 11 retrieved"]);
  });
});

Deno.test("kernel: liveupdate-number never goes backwards, even after an unusable image", () => {
  const t = tempArena();
  try {
    const gone = minimal("gone-v1");
    const a = LiveUpdate.create({ path: t.path, size: 1 << 20, handlers: [gone] });
    a.createSession("s").preserve({ rec: 1n }, 1n);
    assert.equal(a.handover().liveupdateNumber, 1n);
    const b = LiveUpdate.open(t.path, { handlers: [gone] });
    b.retrieveSession("s").finish();
    b.createSession("s").preserve({ rec: 2n }, 2n);
    assert.equal(b.handover().liveupdateNumber, 2n);
    // C does not know "gone-v1": the image is unusable, the count goes on.
    const c = LiveUpdate.open(t.path);
    assertCode(() => c.incomingSessions(), "EIO", /unknown compatible "gone-v1"/);
    assert.equal(c.handover().liveupdateNumber, 3n);
    using d = LiveUpdate.open(t.path);
    assert.equal(d.incomingNumber, 3n);
  } finally {
    t.cleanup();
  }
});

Deno.test("kernel: liveupdate-number keeps counting after a damaged image (rule 2)", () => {
  const t = tempArena();
  try {
    const a = LiveUpdate.create({ path: t.path, size: 1 << 20 });
    a.createSession("s").preserve(MemFile.from(a.arena, new Uint8Array([1])), 1n);
    assert.equal(a.handover().liveupdateNumber, 1n);
    const b = LiveUpdate.open(t.path);
    b.retrieveSession("s").finish();
    b.createSession("s").preserve(MemFile.from(b.arena, new Uint8Array([2])), 1n);
    assert.equal(b.handover().liveupdateNumber, 2n);
    // Zero the count of the session block: the image is damaged (EBADMSG).
    const block = inspectArena(t.path).regions.find((r) => r.what === "session block")!;
    using f = Deno.openSync(t.path, { write: true });
    f.seekSync(Number(BigInt(block.pa) - PHYS_BASE) + 8, Deno.SeekMode.Start);
    f.writeSync(new Uint8Array(8));
    const c = LiveUpdate.open(t.path);
    assertCode(() => c.incomingSessions(), "EIO", /EBADMSG: session chain: block 0 has count 0/);
    c.releaseUnclaimed();
    assert.equal(c.handover().liveupdateNumber, 3n, "the arena's handover count goes on");
    using d = LiveUpdate.open(t.path);
    assert.equal(d.incomingNumber, 3n);
  } finally {
    t.cleanup();
  }
});

Deno.test("kernel: liveupdate-number at 2^64-1 is never wrapped: the handover is EOVERFLOW", () => {
  const t = tempArena();
  try {
    writeV3Image(t.path, [{ name: "s", files: [] }], { liveupdateNumber: (1n << 64n) - 1n });
    using luo = LiveUpdate.open(t.path);
    assert.equal(luo.incomingNumber, (1n << 64n) - 1n);
    luo.retrieveSession("s").finish();
    assertCode(
      () => luo.handover(),
      "EOVERFLOW",
      /liveupdate-number 18446744073709551615 is at its maximum/,
    );
    assert.equal(luo.incomingNumber, (1n << 64n) - 1n, "the image is still the old one");
  } finally {
    t.cleanup();
  }
});

Deno.test("kernel: a retrieved file is busy until its session finishes; then it can be preserved", () => {
  const t = tempArena();
  try {
    const a = LiveUpdate.create({ path: t.path, size: 1 << 20 });
    a.createSession("s").preserve(MemFile.from(a.arena, new Uint8Array([1, 2])), 1n);
    a.handover();
    using b = LiveUpdate.open(t.path);
    const s = b.retrieveSession("s");
    const f = s.retrieve(1n, MemFile);
    const out = b.createSession("next");
    assertCode(() => out.preserve(f, 1n), "EBUSY", /retrieved from incoming session "s"/);
    s.finish();
    out.preserve(f, 1n);
    assert.deepEqual(out.tokens(), [1n]);
  } finally {
    t.cleanup();
  }
});

Deno.test("kernel: retrieve after finish is ENOENT (as for an unknown token)", () => {
  generations(
    [minimal("r-v1")],
    (luo) => luo.createSession("s").preserve({ rec: 1n }, 1n),
    (next) => {
      const s = next.retrieveSession("s");
      s.retrieve(1n);
      s.finish();
      assertCode(
        () => s.retrieve(1n),
        "ENOENT",
        /no file with token 1 \(the session is finished\)/,
      );
      assertCode(() => s.retrieve(2n), "ENOENT");
    },
  );
});

Deno.test("kernel: freeze, unfreeze, canFinish and getId are optional; getId makes aliases one file", () => {
  const id = (o: Rec) => o.rec % 100n; // {rec: 5} and {rec: 105} are the same file
  const h = minimal("alias-v1", [], { getId: (_c, o) => id(o) });
  generations([h], (luo) => {
    const s = luo.createSession("s");
    const other = luo.createSession("other");
    s.preserve({ rec: 5n }, 1n);
    assertCode(
      () => s.preserve({ rec: 105n }, 2n),
      "EBUSY",
      /already preserved in session "s" \(token 1\)/,
    );
    assertCode(() => other.preserve({ rec: 205n }, 1n), "EBUSY", /already preserved/);
    // The same object under a second token of the same session (the selftest's second half).
    const obj = { rec: 7n };
    s.preserve(obj, 3n);
    assertCode(() => s.preserve(obj, 4n), "EBUSY", /already preserved in session "s" \(token 3\)/);
    assert.deepEqual(luo.tokenOf({ rec: 107n }), { session: "s", token: 3n });
    assert.equal(luo.tokenOf({ rec: 8n }), undefined);
  }, (next) => {
    const s = next.retrieveSession("s");
    assert.deepEqual(s.tokens(), [1n, 3n]);
    s.finish(); // no canFinish op: finishing is allowed
  });
});

Deno.test("kernel: closing an incoming session finishes it when it can (luo_session_release)", () => {
  let allow = false;
  const log: string[] = [];
  const h = minimal("close-v1", log, { canFinish: () => allow });
  generations([h], (luo) => {
    luo.createSession("a").preserve({ rec: 1n }, 1n);
    luo.createSession("b").preserve({ rec: 2n }, 2n);
  }, (next) => {
    const a = next.retrieveSession("a");
    assert.equal(a.close(), false, "canFinish said no: still open");
    assert.equal(a.finished, false);
    allow = true;
    assert.equal(a.close(), true);
    {
      using b = next.retrieveSession("b");
      b.retrieve(2n);
    }
    assert.deepEqual(log, ["finish 1 none", "finish 2 retrieved"]);
    assert.deepEqual(next.incomingSessions(), []);
  });
});

Deno.test("kernel: lookups from inside ops: the token of an outgoing object, an incoming file once", () => {
  let retrieves = 0;
  let tokenSeen: unknown;
  const h = minimal("dep-v1", [], {
    freeze: (ctx, f) => {
      if (f.token === 2n) tokenSeen = ctx.tokenOutgoing(dependency);
    },
    retrieve: (ctx, f) => {
      retrieves++;
      // File 2 depends on file 1: it gets it through the lookup (retrieved once).
      const dep = f.token === 2n ? ctx.fileIncoming(f.session, 1n) : undefined;
      return { rec: f.data, dep } as Rec;
    },
  });
  const dependency = { rec: 1n };
  generations([h], (luo) => {
    const s = luo.createSession("s");
    s.preserve(dependency, 1n);
    s.preserve({ rec: 2n }, 2n);
  }, (next) => {
    assert.deepEqual(tokenSeen, { session: "s", token: 1n });
    const s = next.retrieveSession("s");
    const two = s.retrieve(2n) as Rec & { dep: Rec };
    assert.equal(s.retrieved(1n), two.dep, "file 1 was retrieved by the lookup");
    assert.equal(s.retrieve(1n), two.dep, "and is not retrieved twice");
    assert.equal(retrieves, 2);
    s.finish();
  });
});

Deno.test("sync: a handover whose flush fails after the commit point is not rolled back", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20, sync: true });
    luo.createSession("s").preserve(MemFile.from(luo.arena, new Uint8Array([4, 2])), 1n);
    failSyncAfter(luo.arena, 3); // the first msync after the header's commit
    const e = assertCode(() => luo.handover(), "EIO", /published all the same/);
    assert.ok(e instanceof UnflushedHandoverError);
    assert.equal(luo.arena.closed, true, "handed over: the arena is released");
    using next = LiveUpdate.open(t.path);
    const s = next.retrieveSession("s");
    assert.deepEqual(s.retrieve(1n, MemFile).read(), new Uint8Array([4, 2]), "the image is whole");
    s.finish();
  } finally {
    t.cleanup();
  }
});

/** Errors a handler throws, each with the code it must keep (rule 7: its errno, by name or number). */
const CARRIERS: [Record<string, unknown>, ErrorCode][] = [
  [{ code: "ENOSPC" }, "ENOSPC"],
  [{ errno: 28 }, "ENOSPC"], // a C errno
  [{ errno: -16 }, "EBUSY"], // Node's negated errno
  [{ errno: 9999 }, "EIO"], // no errno of ERRORS
  [{ errno: "28" }, "EIO"], // not a number
  [{ errno: 1.5 }, "EIO"],
];

Deno.test("kernel: a handler's plain Error keeps its errno (code or numeric errno) on preserve, freeze, retrieve, canFinish and finish", () => {
  const fail: { op?: string; err?: Error } = {};
  const thrower = (op: string) => () => {
    if (fail.op === op) throw fail.err;
    return true;
  };
  const h = minimal("errno-v1", [], {
    preserve: (_c, f) => (thrower("preserve")(), f.obj.rec),
    freeze: () => void thrower("freeze")(),
    retrieve: (_c, f) => (thrower("retrieve")(), { rec: f.data }),
    canFinish: thrower("canFinish"),
    finish: () => void thrower("finish")(),
  });
  const each = (op: string, fn: (i: number, code: ErrorCode) => void) =>
    CARRIERS.forEach(([props, code], i) => {
      Object.assign(fail, { op, err: Object.assign(new Error(`${op} broke`), props) });
      fn(i, code);
      fail.op = undefined;
    });
  generations([h], (luo) => {
    each("preserve", (i, code) => {
      const s = luo.createSession(`c${i}`);
      assertCode(() => s.preserve({ rec: 1n }, 1n), code, /preserve failed: preserve broke/);
    });
    for (let i = 0; i < CARRIERS.length; i++) luo.session(`c${i}`).preserve({ rec: 1n }, 1n);
    each("freeze", (_i, code) => {
      assertCode(() => luo.handover(), code, /freeze failed: freeze broke/);
    });
  }, (next) => {
    const sessions = CARRIERS.map((_, i) => next.retrieveSession(`c${i}`));
    each("retrieve", (i, code) => {
      assertCode(() => sessions[i].retrieve(1n), code, /retrieve failed: retrieve broke/);
    });
    each("canFinish", (i, code) => {
      assertCode(() => sessions[i].finish(), code, /canFinish failed: canFinish broke/);
    });
    each("finish", (i, code) => {
      assertCode(() => sessions[i].finish(), code, /finish failed: finish broke/);
    });
    assert.deepEqual(next.incomingSessions(), []);
  });
});
