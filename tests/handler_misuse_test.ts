// Issue 10 item 8: calls into the live update from inside its own handler
// ops are a typed EBUSY, and a handler returning the wrong type is a typed
// error with its preserve undone; nothing is lost or leaked either way.
import assert from "node:assert/strict";
import { type FileHandler, LiveUpdate, LuoError, MemFile } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
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

function pagesInUse(luo: LiveUpdate): number {
  const i = luo.arena.info();
  return i.allocatedPages + i.handedOverPages + i.deferredPages;
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
    const base = pagesInUse(luo);
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
    assert.equal(pagesInUse(luo), base + 2, "only the session block (2 pages) is in use");
    // The next preserve and the handover still work.
    s.preserve(MemFile.from(luo.arena, new Uint8Array([7])), 1n);
    s.close();
  }
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
