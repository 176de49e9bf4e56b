// Fault injection: the native allocator fails at the Nth allocation, and a
// handler op fails at the Kth call, for every N and K over a full preserve
// + handover + restore of a realistic workload. Every failure must be
// clean (typed error, zero leaked pages) and a retry without the fault
// must succeed and hand over every byte.
import assert from "node:assert/strict";
import { failAllocAfter } from "../lib/kho/faults.ts";
import {
  type FileHandler,
  LiveUpdate,
  LiveUpdateError,
  LuoError,
  memfdHandler,
  MemFile,
} from "../mod.ts";
import { tempArena } from "../testing/temp_arena.ts";

const SIZES = [0, 100, 4096, 5000, 70_000, 1 << 20, 3, 9000, 0, 200_000, 12, 40_000];

function content(k: number, size: number): Uint8Array {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** The workload as retryable steps over shared state. */
function steps(luo: LiveUpdate, files: MemFile[]): (() => void)[] {
  const out: (() => void)[] = [];
  for (const name of ["a", "b", "c"]) out.push(() => void luo.createSession(name));
  for (const [k, size] of SIZES.entries()) {
    out.push(() => {
      const f = MemFile.create(luo.arena);
      try {
        if (size) f.write(content(k, size), 0);
      } catch (e) {
        f.close();
        throw e;
      }
      files[k] = f;
    });
    out.push(() => luo.session(["a", "b", "c"][k % 3]).preserve(files[k], BigInt(k)));
  }
  out.push(() => void luo.handover());
  return out;
}

/** In-process successor: verifies every byte, finishes, checks that no page is in use. */
function verifySuccessor(path: string, handlers: FileHandler<MemFile>[] = []): void {
  using next = LiveUpdate.open(path, { poison: true, handlers });
  for (const name of ["a", "b", "c"]) {
    const s = next.retrieveSession(name);
    for (const t of s.tokens()) {
      const k = Number(t);
      const f = s.retrieve(t, MemFile);
      assert.deepEqual(f.read(), content(k, SIZES[k]), `session ${name} token ${k}`);
      f.close();
    }
    s.finish();
  }
  next.discardIncoming();
  const i = next.arena.info();
  assert.equal(i.allocatedPages + i.handedOverPages + i.deferredPages, 0, Deno.inspect(i));
}

function isENOMEM(e: unknown): boolean {
  return e instanceof LiveUpdateError && e.code === "ENOMEM";
}

for (const [format, minPoints] of [["memfd-v2", 8], ["memfd-v1", 25]] as const) {
  Deno.test(`fault injection (${format}): allocation N fails, for every N over preserve + handover`, () => {
    allocationFaults(format, minPoints);
  });
}

function allocationFaults(memfdFormat: "memfd-v1" | "memfd-v2", minPoints: number): void {
  let points = 0;
  // A failure a growth absorbs (it asks for less, and succeeds) is no fault point; past the
  // workload's last allocation nothing fails any more: 30 such N in a row end the search.
  for (let n = 1, quiet = 0; n < 1000 && quiet < 30; n++) {
    // Run 1: fail at N, then tear everything down: no page may stay allocated.
    const t1 = tempArena();
    let failed = false;
    try {
      const luo = LiveUpdate.create({ path: t1.path, size: 16 << 20, memfdFormat });
      const files: MemFile[] = [];
      failAllocAfter(luo.arena, n);
      try {
        for (const step of steps(luo, files)) step();
      } catch (e) {
        assert.ok(isENOMEM(e), `N=${n}: ${e}`);
        failed = true;
        for (const name of luo.sessions()) luo.session(name).close();
        for (const f of files) f?.close();
        const i = luo.arena.info();
        assert.equal(i.allocatedPages, 0, `N=${n}: leaked ${i.allocatedPages} pages`);
        assert.equal(i.preservedPages, 0, `N=${n}`);
        luo.close();
      }
    } finally {
      t1.cleanup();
    }
    if (!failed) {
      quiet++; // absorbed, or past the workload's last allocation
      continue;
    }
    quiet = 0;
    points++;
    // Run 2: fail at N, then retry the failed step without the fault and finish.
    const t2 = tempArena();
    try {
      const luo = LiveUpdate.create({ path: t2.path, size: 16 << 20, memfdFormat });
      const files: MemFile[] = [];
      failAllocAfter(luo.arena, n);
      for (const step of steps(luo, files)) {
        try {
          step();
        } catch (e) {
          assert.ok(isENOMEM(e), `N=${n}: ${e}`);
          failAllocAfter(luo.arena, 0);
          step();
        }
      }
      verifySuccessor(t2.path);
    } finally {
      t2.cleanup();
    }
  }
  if (Deno.env.get("LUO_VERBOSE")) console.log(`${memfdFormat} allocation fault points: ${points}`);
  assert.ok(points >= minPoints, `only ${points} allocation points`);
}

/** memfd-v2 whose ops fail at the Kth call (counted over all ops). */
function flaky(state: { calls: number; failAt: number; hit?: string }): FileHandler<MemFile> {
  const wrap = <A extends unknown[], R>(op: string, fn: (...a: A) => R) => (...a: A): R => {
    if (++state.calls === state.failAt) {
      state.hit = op;
      throw new LuoError("EIO", `injected failure of ${op}`);
    }
    return fn(...a);
  };
  const h = memfdHandler;
  return {
    compatible: h.compatible,
    canPreserve: h.canPreserve,
    preserve: wrap("preserve", h.preserve),
    unpreserve: wrap("unpreserve", h.unpreserve),
    freeze: wrap("freeze", h.freeze!),
    unfreeze: h.unfreeze,
    retrieve: wrap("retrieve", h.retrieve),
    canFinish: wrap("canFinish", (_c, _f) => true),
    finish: wrap("finish", h.finish),
  };
}

Deno.test("fault injection: a handler op fails at every position; the retry succeeds, nothing leaks", () => {
  const hits = new Map<string, number>();
  let k = 1;
  for (; k < 500; k++) {
    const t = tempArena();
    const state = { calls: 0, failAt: k, hit: undefined as string | undefined };
    try {
      // Predecessor: preserve every file, hand over; retry a failed op once.
      const luo = LiveUpdate.create({ path: t.path, size: 16 << 20 });
      luo.handlers.unregister("memfd-v2");
      luo.registerHandler(flaky(state));
      for (const name of ["a", "b", "c"]) luo.createSession(name);
      const retry = (fn: () => void) => {
        try {
          fn();
        } catch (e) {
          assert.ok(e instanceof LiveUpdateError && /injected/.test(e.message), String(e));
          fn();
        }
      };
      for (const [i, size] of SIZES.entries()) {
        const f = MemFile.from(luo.arena, content(i, size));
        retry(() => luo.session(["a", "b", "c"][i % 3]).preserve(f, BigInt(i)));
      }
      // Unpreserve one file and preserve it again, to exercise unpreserve.
      const again = MemFile.from(luo.arena, content(99, 10));
      retry(() => luo.session("a").preserve(again, 99n));
      retry(() => luo.session("a").unpreserve(99n));
      again.close();
      retry(() => luo.handover());

      // Successor: retrieve everything (a failed retrieve is sticky), finish, release.
      using next = LiveUpdate.open(t.path, { handlers: [] });
      next.handlers.unregister("memfd-v2");
      next.registerHandler(flaky(state));
      for (const name of ["a", "b", "c"]) {
        const s = next.retrieveSession(name);
        for (const tok of s.tokens()) {
          try {
            const f = s.retrieve(tok, MemFile);
            assert.deepEqual(f.read(), content(Number(tok), SIZES[Number(tok)]));
            f.close();
          } catch (e) {
            assert.ok(e instanceof LiveUpdateError && /injected/.test(e.message), String(e));
          }
        }
        retry(() => s.finish());
      }
      next.releaseUnclaimed();
      next.discardIncoming();
      const i = next.arena.info();
      assert.equal(
        i.allocatedPages + i.handedOverPages + i.deferredPages,
        0,
        `K=${k} (${state.hit}): ${Deno.inspect(i)}`,
      );
    } finally {
      t.cleanup();
    }
    if (!state.hit) break;
    hits.set(state.hit, (hits.get(state.hit) ?? 0) + 1);
  }
  if (Deno.env.get("LUO_VERBOSE")) {
    console.log(`handler op fault positions: ${k - 1}`, Object.fromEntries(hits));
  }
  for (const op of ["preserve", "unpreserve", "freeze", "retrieve", "canFinish", "finish"]) {
    assert.ok((hits.get(op) ?? 0) > 0, `op ${op} never failed: ${JSON.stringify([...hits])}`);
  }
  assert.ok(k > 40, `only ${k} positions`);
});
