/**
 * Runs corruption cases: write a damaged copy of a base arena, open it as
 * the successor, retrieve and finish everything, release what is left,
 * and check the outcome: a correct restore or a typed error naming where,
 * within a bounded time, with consistent page accounting.
 *
 * @module
 */

import { LiveUpdate, LiveUpdateError, MemFile, PreservedMap } from "../../mod.ts";
import { Rng } from "../rng.ts";
import { mutate, type Mutation } from "./mutate.ts";
import { type Base, buildBase, numberHandler, type Shape, SHAPES } from "./shapes.ts";

/** A case longer than this counts as a hang. */
export const HANG_MS = 2000;

/** What one case ended in. */
export interface Outcome {
  /** "ok" for a correct restore, else the error code ("CRASH" for an untyped error). */
  result: string;
  message?: string;
  ms: number;
  /** Why the case is a failure (crash, hang, leak, vague error), if it is one. */
  failure?: string;
}

/** A saved failing case. */
export interface Regression {
  shape: Shape;
  seed: number;
  index: number;
  mutation: Mutation;
  failure: string;
}

/** What a successor took over: memory files and maps. */
type Owned = MemFile | PreservedMap<unknown>;

function pagesOf(objs: Owned[]): number {
  return objs.reduce(
    (a, o) =>
      a + (o instanceof MemFile ? o.extents.reduce((x, e) => x + e.pages, 0) : o.stats().pages),
    0,
  );
}

/** Checks that nothing is left in use once everything was finished and released. */
function accounting(luo: LiveUpdate, owned: Owned[]): string | undefined {
  const i = luo.arena.info();
  if (i.handedOverPages !== 0) {
    return `leak: ${i.handedOverPages} handed-over pages left after release`;
  }
  if (i.allocatedPages !== pagesOf(owned)) {
    return `leak: ${i.allocatedPages} pages allocated, retrieved files own ${pagesOf(owned)}`;
  }
  for (const f of owned) f.close();
  const after = luo.arena.info();
  if (
    after.allocatedPages !== 0 || after.deferredPages !== 0 || after.freePages !== after.pages - 1
  ) {
    return `leak: after closing every file ${after.allocatedPages} allocated, ${after.deferredPages} deferred, ${after.freePages}/${
      after.pages - 1
    } free`;
  }
  return undefined;
}

/** An error names where when it carries an address, an offset or a header field. */
function namesWhere(message: string): boolean {
  return /0x[0-9a-f]+|offset \d+|header:|\d+ bytes/.test(message);
}

/** Reads every key of a map both ways (iteration and lookup). */
function readMap(map: PreservedMap<unknown>): void {
  for (const [k] of map) map.get(k);
}

/**
 * Retrieves and reads everything; returns the first typed error met
 * reading a retrieved object (the rest is still drained and finished).
 */
function drain(luo: LiveUpdate, owned: Owned[]): LiveUpdateError | undefined {
  let first: LiveUpdateError | undefined;
  for (const name of luo.incomingSessions()) {
    const s = luo.retrieveSession(name);
    for (const t of s.tokens()) {
      try {
        const obj = s.retrieve(t);
        if (obj instanceof MemFile || obj instanceof PreservedMap) owned.push(obj);
        if (obj instanceof MemFile) obj.read();
        if (obj instanceof PreservedMap) readMap(obj);
      } catch (e) {
        if (!(e instanceof LiveUpdateError)) throw e;
        first ??= e;
      }
    }
    s.finish();
  }
  return first;
}

/** Opens the damaged arena at `path` as a successor and checks the outcome. */
export function runCase(path: string): Outcome {
  const t0 = performance.now();
  const done = (o: Omit<Outcome, "ms">): Outcome => {
    const ms = performance.now() - t0;
    const out: Outcome = { ...o, ms };
    if (!out.failure && ms > HANG_MS) out.failure = `hang: ${ms.toFixed(0)} ms`;
    return out;
  };
  let luo: LiveUpdate;
  try {
    luo = LiveUpdate.open(path, { handlers: [numberHandler] });
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) {
      return done({ result: "CRASH", message: String(e), failure: `crash: ${e}` });
    }
    const vague = namesWhere(e.message) ? undefined : `vague error: ${e.message}`;
    return done({
      result: e.code,
      message: e.message,
      failure: vague ?? discardCheck(path, e.code, e.message),
    });
  }
  const owned: Owned[] = [];
  let error: LiveUpdateError | undefined;
  try {
    try {
      error = drain(luo, owned);
    } catch (e) {
      if (!(e instanceof LiveUpdateError)) throw e;
      error = e;
    }
    luo.discardIncoming();
    const leak = accounting(luo, owned);
    if (error) {
      const cause = error.cause instanceof LiveUpdateError ? error.cause : error;
      const vague = namesWhere(error.message) ? undefined : `vague error: ${error.message}`;
      return done({ result: cause.code, message: error.message, failure: leak ?? vague });
    }
    return done({ result: "ok", failure: leak });
  } catch (e) {
    return done({
      result: "CRASH",
      message: String(e),
      failure: `crash: ${e instanceof Error ? e.stack : e}`,
    });
  } finally {
    luo.close();
  }
}

/** A refused arena must still open with `discard`, every page free. */
function discardCheck(path: string, code: string, message: string): string | undefined {
  // Header damage (size, phys_base, magic) makes the file unusable as an arena at all.
  if (code !== "EBADMSG" || message.includes("header:")) return undefined;
  try {
    using luo = LiveUpdate.open(path, { discard: true });
    const i = luo.arena.info();
    return i.freePages === i.pages - 1
      ? undefined
      : `discard open left ${i.pages - 1 - i.freePages} pages in use`;
  } catch (e) {
    return `discard open failed: ${e}`;
  }
}

/** Writes `base` with `m` applied to `path`. */
export function applyMutation(base: Uint8Array, m: Mutation, path: string): void {
  const bytes = base.slice(0, m.truncate ?? base.length);
  for (const p of m.patches) if (p.off + p.bytes.length <= bytes.length) bytes.set(p.bytes, p.off);
  Deno.writeFileSync(path, bytes, { mode: 0o600 });
}

/** Summary of a campaign. */
export interface Summary {
  cases: number;
  seed: number;
  byResult: Record<string, number>;
  byKind: Record<string, number>;
  crashes: number;
  hangs: number;
  failures: number;
  maxMs: number;
  seconds: number;
  saved: string[];
}

/** Options of {@link campaign}. */
export interface CampaignOptions {
  cases: number;
  seed: number;
  dir: string;
  /** Where to save failing cases (none when absent). */
  saveDir?: string;
  onProgress?: (done: number) => void;
}

/** Runs `cases` seeded cases over every shape. */
export function campaign(opts: CampaignOptions): Summary {
  const t0 = performance.now();
  const bases = new Map<Shape, Base>(SHAPES.map((s) => [s, buildBase(s, opts.dir)]));
  const rng = new Rng(opts.seed);
  const summary: Summary = {
    cases: 0,
    seed: opts.seed,
    byResult: {},
    byKind: {},
    crashes: 0,
    hangs: 0,
    failures: 0,
    maxMs: 0,
    seconds: 0,
    saved: [],
  };
  const path = `${opts.dir}/case.arena`;
  for (let i = 0; i < opts.cases; i++) {
    const shape = SHAPES[i % SHAPES.length];
    const base = bases.get(shape)!;
    const m = mutate(rng, base.layout, base.bytes);
    applyMutation(base.bytes, m, path);
    const o = runCase(path);
    summary.cases++;
    summary.byResult[o.result] = (summary.byResult[o.result] ?? 0) + 1;
    summary.byKind[m.kind] = (summary.byKind[m.kind] ?? 0) + 1;
    summary.maxMs = Math.max(summary.maxMs, o.ms);
    if (o.result === "CRASH") summary.crashes++;
    if (o.failure?.startsWith("hang")) summary.hangs++;
    if (o.failure) {
      summary.failures++;
      if (opts.saveDir) {
        const file = `${opts.saveDir}/${shape}-seed${opts.seed}-case${i}.json`;
        const reg: Regression = {
          shape,
          seed: opts.seed,
          index: i,
          mutation: m,
          failure: o.failure,
        };
        Deno.writeTextFileSync(file, JSON.stringify(reg, null, 2) + "\n");
        summary.saved.push(file);
      }
    }
    opts.onProgress?.(i + 1);
  }
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/** Replays a saved case; returns its outcome. */
export function replay(reg: Regression, dir: string, bases: Map<Shape, Base>): Outcome {
  let base = bases.get(reg.shape);
  if (!base) {
    base = buildBase(reg.shape, dir);
    bases.set(reg.shape, base);
  }
  const path = `${dir}/replay.arena`;
  applyMutation(base.bytes, reg.mutation, path);
  return runCase(path);
}
