// Issue 10 item 8: calls into the live update from inside its own handler
// ops are a typed EBUSY, and a handler returning the wrong type is a typed
// error with its preserve undone; nothing is lost or leaked either way.
import assert from "node:assert/strict";
import { type FileHandler, LiveUpdate, LuoError, MemFile, Value } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { pagesInUse } from "../testing/pages.ts";
import { tempArena } from "../testing/temp_arena.ts";

interface Box {
  box: number;
}

/** A handler of `{ box }` objects whose ops run `hook` (with the op's name). */
function hooked(hook: (op: string) => void): FileHandler<Box> {
  return {
    compatible: "hooked-v1",
    canPreserve: (_c, o) => typeof o === "object" && o !== null && "box" in o,
    preserve: (_c, f) => (hook("preserve"), BigInt(f.obj.box)),
    unpreserve: () => hook("unpreserve"),
    freeze: () => hook("freeze"),
    unfreeze: () => hook("unfreeze"),
    retrieve: (_c, f) => (hook("retrieve"), { box: Number(f.data) }),
    canFinish: () => (hook("canFinish"), true),
    finish: () => hook("finish"),
  };
}

Deno.test("re-entrancy: every call into the live update from a handler op is EBUSY", () => {
  const t = tempArena();
  try {
    const errors: string[] = [];
    const ref = {} as { luo: LiveUpdate };
    const calls: [string, () => unknown][] = [
      ["createSession", () => ref.luo.createSession("inner")],
      ["close a session", () => ref.luo.session("outer").close()],
      ["preserve", () => ref.luo.session("outer").preserve(MemFile.create(ref.luo.arena), 99n)],
      ["handover", () => ref.luo.handover()],
      ["registerHandler", () => ref.luo.registerHandler(hooked(() => {}))],
      ["close", () => ref.luo.close()],
    ];
    const hook = (op: string) => {
      if (op !== "freeze") return;
      for (const [what, call] of calls) {
        try {
          call();
          errors.push(`${what}: no error`);
        } catch (e) {
          errors.push(`${what}: ${e instanceof LuoError ? e.code : String(e)}`);
        }
      }
    };
    const luo = ref.luo = LiveUpdate.create({
      path: t.path,
      size: 1 << 20,
      handlers: [hooked(hook)],
    });
    const s = luo.createSession("outer");
    s.preserve({ box: 1 }, 1n);
    s.preserve(MemFile.from(luo.arena, new Uint8Array([1, 2, 3])), 2n);
    const summary = luo.handover();
    assert.deepEqual(errors, calls.map(([what]) => `${what}: EBUSY`));
    assert.equal(summary.sessions, 1, "the session created inside freeze does not exist");
    assert.equal(summary.files, 2);
    using next = LiveUpdate.open(t.path, { handlers: [hooked(() => {})] });
    assert.deepEqual(next.incomingSessions(), ["outer"]);
  } finally {
    t.cleanup();
  }
});

Deno.test("re-entrancy: retrieve and finish called from inside retrieve are EBUSY", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20, handlers: [hooked(() => {})] });
    const s = luo.createSession("s");
    s.preserve({ box: 1 }, 1n);
    s.preserve({ box: 2 }, 2n);
    luo.handover();
    let inner = "";
    const ref = {} as { session: ReturnType<LiveUpdate["retrieveSession"]> };
    const hook = (op: string) => {
      if (op !== "retrieve" || inner) return;
      try {
        ref.session.retrieve(2n);
        inner = "no error";
      } catch (e) {
        inner = e instanceof LuoError ? e.code : String(e);
      }
      assertCode(() => ref.session.finish(), "EBUSY", /from inside handler "hooked-v1" retrieve/);
    };
    using next = LiveUpdate.open(t.path, { handlers: [hooked(hook)] });
    const session = ref.session = next.retrieveSession("s");
    assert.deepEqual(session.retrieve(1n), { box: 1 });
    assert.equal(inner, "EBUSY");
    assert.deepEqual(session.retrieve(2n), { box: 2 }, "fine from outside");
    session.finish();
  } finally {
    t.cleanup();
  }
});

Deno.test("a handler whose preserve returns no u64 bigint: typed EINVAL, undone, nothing leaks", () => {
  for (const wrong of [5, "5", -1n, 1n << 64n, undefined, null]) {
    using luo = LiveUpdate.create({ size: 1 << 20 });
    const base = pagesInUse(luo.arena.info());
    let unpreserved = 0;
    luo.registerHandler<Box>({
      compatible: "wrong-v1",
      canPreserve: (_c, o) => typeof o === "object" && o !== null && "box" in o,
      preserve: (ctx, f) => {
        f.private = ctx.arena.allocPreserve(5 * 4096); // pages it must give back
        return wrong as never;
      },
      unpreserve: (ctx, f) => {
        unpreserved++;
        ctx.arena.unpreserveFree(f.private as bigint);
      },
      retrieve: (_c, f) => ({ box: Number(f.data) }),
      finish: () => {},
    });
    const s = luo.createSession("s");
    assertCode(
      () => s.preserve({ box: 1 }, 1n),
      "EINVAL",
      /preserve returned .*the preserve was undone/,
    );
    assert.equal(unpreserved, 1);
    assert.equal(s.fileCount, 0);
    assert.equal(
      pagesInUse(luo.arena.info()),
      base + 2,
      "only the session block (2 pages) is in use",
    );
    // The next preserve and the handover still work.
    s.preserve(MemFile.from(luo.arena, new Uint8Array([7])), 1n);
    s.close();
  }
});

Deno.test("a wrong preserve result whose undo fails too reports both", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  luo.registerHandler<Box>({
    compatible: "wrong-v1",
    canPreserve: (_c, o) => typeof o === "object" && o !== null && "box" in o,
    preserve: () => "5" as never,
    unpreserve: () => {
      throw new Error("undo broke");
    },
    retrieve: (_c, f) => ({ box: Number(f.data) }),
    finish: () => {},
  });
  const e = assertCode(
    () => luo.createSession("s").preserve({ box: 1 }, 1n),
    "EINVAL",
    /preserve returned string 5, want a bigint in 0\.\.2\^64-1; rolling back also failed: .*unpreserve failed: undo broke/,
  );
  assert.doesNotMatch(e.message, /was undone/);
});

Deno.test("a handler's plain Error keeps its errno; without one it is EIO naming the op", () => {
  const t = tempArena();
  try {
    let code: string | undefined = "ENOSPC";
    const h: FileHandler<Box> = {
      ...hooked(() => {}),
      freeze: () => {
        throw Object.assign(new Error("disk of the handler is full"), { code });
      },
    };
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20, handlers: [h] });
    luo.createSession("s").preserve({ box: 1 }, 1n);
    assertCode(() => luo.handover(), "ENOSPC", /freeze failed: disk of the handler is full/);
    code = undefined;
    assertCode(() => luo.handover(), "EIO", /handler "hooked-v1" freeze failed/);
    luo.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("handler ops that throw or return the wrong kind are typed errors naming the handler", () => {
  const t = tempArena();
  try {
    let mode = "";
    const h: FileHandler<Box> = {
      ...hooked(() => {}),
      canPreserve: (_c, o) => {
        if (mode === "throw") throw new Error("canPreserve exploded");
        if (mode === "promise") return Promise.resolve(true) as never;
        return typeof o === "object" && o !== null && "box" in o;
      },
      canFinish: () => {
        if (mode === "throw") throw new Error("canFinish exploded");
        return (mode === "string" ? "no" : true) as never;
      },
      freeze: (_c, f) => {
        if (f.obj.box === 3) throw new Error("freeze refused");
      },
      unfreeze: () => {
        throw new Error("unfreeze refused too");
      },
    };
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20, handlers: [h] });
    const s = luo.createSession("s");
    for (
      const [m, code, pattern] of [
        ["throw", "EIO", /handler "hooked-v1" canPreserve failed: canPreserve exploded/],
        ["promise", "EINVAL", /canPreserve returned Promise, want a boolean/],
      ] as const
    ) {
      mode = m;
      assertCode(() => s.preserve({ box: 1 }, 1n), code, pattern, m);
    }
    mode = "";
    s.preserve({ box: 1 }, 1n);
    s.preserve({ box: 3 }, 3n);
    // freeze of 3 fails, then the unfreeze of 1 fails too: both are reported, the first first.
    assertCode(
      () => luo.handover(),
      "EIO",
      /token 3: handler "hooked-v1" freeze failed: freeze refused; rolling back also failed: .*token 1: handler "hooked-v1" unfreeze failed: unfreeze refused too/,
    );
    s.unpreserve(3n);
    luo.handover();
    using next = LiveUpdate.open(t.path, { handlers: [h] });
    const is = next.retrieveSession("s");
    for (
      const [m, code, pattern] of [
        ["throw", "EIO", /token 1: canFinish failed: canFinish exploded/],
        ["string", "EINVAL", /canFinish returned string, want a boolean/],
      ] as const
    ) {
      mode = m;
      assertCode(() => is.finish(), code, pattern, m);
      assert.equal(is.finished, false, m);
    }
    mode = "";
    is.finish();
  } finally {
    t.cleanup();
  }
});

Deno.test("a value too large for the arena is named by its session and token", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  luo.createSession("big").preserve(new Value(new Uint8Array(2 << 20)), 7n);
  assertCode(
    () => luo.handover(),
    "ENOMEM",
    /session "big" token 7: handler "value-v1" freeze failed: the value takes \d+ bytes serialized/,
  );
});

Deno.test("a value that finds no room at handover is named by its session and token", () => {
  using luo = LiveUpdate.create({ size: 4 << 20 });
  luo.arena.alloc(2 << 20);
  luo.createSession("full").preserve(new Value(new Uint8Array(1_200_000)), 9n);
  assertCode(
    () => luo.handover(),
    "ENOMEM",
    /session "full" token 9: handler "value-v1" freeze failed: alloc/,
  );
});
