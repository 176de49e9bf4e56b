/**
 * File-lifecycle-bound objects (FLBs, the kernel's `luo_flb.c`): an object
 * shared by several files (an index, an allocator), registered with one or
 * more file handlers. Outgoing, it is preserved when the first file that
 * uses it is preserved and unpreserved when the last one is; at handover it
 * is handed over once, with the number of files using it. Incoming, it is
 * retrievable before any of its files (once; the same object after), and
 * finished when the last of its files finishes.
 *
 * @module
 */

import { CorruptImageError, LuoError } from "../errors.ts";
import type { BlockChain } from "../format/block.ts";
import { compatibleField } from "../format/file_ser.ts";
import { type FlbEntry, writeFlbEntries } from "../format/flb_ser.ts";
import type { CallbackGuard } from "./guard.ts";
import type { HandlerContext } from "./handler.ts";

/**
 * The ops of a file-lifecycle-bound object, as the kernel's
 * `liveupdate_flb_ops`.
 *
 * @example
 * ```ts
 * import { type FlbOps, LiveUpdate, Value } from "@luo/live-update";
 * // One page shared by every value file: when the first of them was preserved.
 * const since: FlbOps<{ at: bigint }> = {
 *   compatible: "values-since-v1",
 *   preserve({ arena }) {
 *     const obj = { at: BigInt(Date.now()) };
 *     const data = arena.allocPreserve(4096, { zero: true }); // no stale bytes handed over
 *     arena.view(data, 8).setBigUint64(0, obj.at, true);
 *     return { obj, data };
 *   },
 *   unpreserve: ({ arena }, _obj, data) => arena.unpreserveFree(data),
 *   retrieve({ arena }, data) {
 *     arena.claim(data, 8, "values-since page");
 *     return { at: arena.view(data, 8).getBigUint64(0, true) };
 *   },
 *   // Never retrieved (obj undefined): the page is still handed over; else it was claimed.
 *   finish: ({ arena }, obj, data) => obj ? arena.free(data) : arena.restoreFree(data),
 * };
 * const old = LiveUpdate.create({ size: 1 << 20 });
 * old.registerFlb("value-v1", since);
 * old.createSession("svc").preserve(new Value(1), 1n);
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path, { flbs: [{ handler: "value-v1", flb: since }] });
 * const { at } = luo.flbIncoming("values-since-v1") as { at: bigint };
 * console.log(at <= BigInt(Date.now())); // true
 * luo.retrieveSession("svc").finish(); // its last file finished: so is the FLB
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface FlbOps<T = unknown> {
  /** Compatible string, 1..47 bytes, unique among FLBs. */
  readonly compatible: string;
  /** When the first file using it is preserved: makes the object and its `data` (a u64). */
  preserve(ctx: HandlerContext): { obj: T; data: bigint };
  /** When the last file using it is unpreserved. */
  unpreserve(ctx: HandlerContext, obj: T, data: bigint): void;
  /** In the successor, once, on first use: rebuilds the object from `data`. */
  retrieve(ctx: HandlerContext, data: bigint): T;
  /**
   * When the last file using it finishes (`obj` is undefined when it was
   * never retrieved: then free everything behind `data`).
   */
  finish(ctx: HandlerContext, obj: T | undefined, data: bigint): void;
}

interface Outgoing {
  refs: number;
  obj: unknown;
  data: bigint;
}

interface Incoming {
  entry: FlbEntry;
  remaining: number;
  state: "none" | "retrieved" | "failed" | "finished";
  obj?: unknown;
  error?: unknown;
}

const OPS = ["preserve", "unpreserve", "retrieve", "finish"] as const;

/** The FLBs of one live update: registrations, outgoing references, incoming state. */
export class FlbRegistry {
  #byCompat = new Map<string, { ops: FlbOps; field: Uint8Array }>();
  #byHandler = new Map<string, FlbOps[]>();
  #outgoing = new Map<string, Outgoing>();
  #incoming = new Map<string, Incoming>();
  /** Preserved files per handler compatible (an FLB attached later would miss them). */
  #files = new Map<string, number>();
  /** Whether the incoming image was read (an FLB attached later would miss its entries). */
  #adopted = false;
  #ctx: HandlerContext;
  #guard: CallbackGuard;

  /** An empty registry. */
  constructor(ctx: HandlerContext, guard: CallbackGuard) {
    this.#ctx = ctx;
    this.#guard = guard;
  }

  /**
   * Attaches `flb` to the handler of `handlerCompatible` (several handlers
   * may share one FLB): `EINVAL` for a bad FLB, `EEXIST` when another FLB
   * has its compatible or it is attached to that handler already.
   */
  register(handlerCompatible: string, flb: FlbOps): void {
    const field = compatibleField(flb?.compatible);
    if ((this.#files.get(handlerCompatible) ?? 0) > 0) {
      throw new LuoError(
        "EBUSY",
        `flb "${flb.compatible}": files of "${handlerCompatible}" are preserved already (attach FLBs before)`,
      );
    }
    if (this.#adopted) {
      throw new LuoError(
        "EBUSY",
        `flb "${flb.compatible}": the incoming state was read already (attach FLBs before)`,
      );
    }
    for (const op of OPS) {
      if (typeof flb[op] !== "function") {
        throw new LuoError("EINVAL", `flb "${flb.compatible}" lacks the op ${op}`);
      }
    }
    const known = this.#byCompat.get(flb.compatible);
    if (known && known.ops !== flb) {
      throw new LuoError("EEXIST", `another flb "${flb.compatible}" is already registered`);
    }
    const list = this.#byHandler.get(handlerCompatible) ?? [];
    if (list.includes(flb)) {
      throw new LuoError(
        "EEXIST",
        `flb "${flb.compatible}" is attached to "${handlerCompatible}" already`,
      );
    }
    this.#byCompat.set(flb.compatible, { ops: flb, field });
    this.#byHandler.set(handlerCompatible, [...list, flb]);
  }

  /** The FLBs attached to a handler. */
  of(handlerCompatible: string): readonly FlbOps[] {
    return this.#byHandler.get(handlerCompatible) ?? [];
  }

  /** A file of `handler` is about to be preserved: takes a reference on each of its FLBs. */
  preserveFile(handler: string): void {
    this.#files.set(handler, (this.#files.get(handler) ?? 0) + 1);
    const taken: FlbOps[] = [];
    try {
      for (const flb of this.of(handler)) {
        const st = this.#outgoing.get(flb.compatible);
        if (st) st.refs++;
        else this.#outgoing.set(flb.compatible, { refs: 1, ...this.#preserve(flb) });
        taken.push(flb);
      }
    } catch (e) {
      for (const flb of taken.reverse()) this.#drop(flb);
      this.#files.set(handler, this.#files.get(handler)! - 1);
      throw e;
    }
  }

  /** Runs an FLB's preserve and checks its data (undoing the preserve when it is not a u64). */
  #preserve(flb: FlbOps): { obj: unknown; data: bigint } {
    const who = `flb "${flb.compatible}"`;
    const made = this.#guard.run(who, "preserve", () => flb.preserve(this.#ctx));
    const data: unknown = made?.data;
    if (typeof data === "bigint" && data >= 0n && data < 1n << 64n) return { obj: made.obj, data };
    this.#guard.run(
      `flb "${flb.compatible}"`,
      "unpreserve",
      () => flb.unpreserve(this.#ctx, made?.obj, data as bigint),
    );
    throw new LuoError(
      "EINVAL",
      `${who} preserve returned data ${String(data)}, want a u64 bigint; undone`,
    );
  }

  /** A file of `handler` was unpreserved (or its preserve failed): drops its references. */
  unpreserveFile(handler: string): void {
    this.#files.set(handler, this.#files.get(handler)! - 1);
    for (const flb of [...this.of(handler)].reverse()) this.#drop(flb);
  }

  #drop(flb: FlbOps): void {
    const st = this.#outgoing.get(flb.compatible);
    if (!st) {
      throw new LuoError("EINVAL", `flb "${flb.compatible}" has no outgoing reference to drop`);
    }
    if (--st.refs > 0) return;
    this.#outgoing.delete(flb.compatible);
    this.#guard.run(
      `flb "${flb.compatible}"`,
      "unpreserve",
      () => flb.unpreserve(this.#ctx, st.obj, st.data),
    );
  }

  /** The outgoing object of an FLB (the kernel's `liveupdate_flb_get_outgoing`); `ENOENT` when no file uses it. */
  outgoing(compatible: string): unknown {
    const st = this.#outgoing.get(compatible);
    if (!st) throw new LuoError("ENOENT", `flb "${compatible}": no preserved file uses it`);
    return st.obj;
  }

  /** Writes the outgoing FLBs into `chain` (reserved here); returns its head (0n: none). */
  fill(chain: BlockChain): bigint {
    const entries = [...this.#outgoing].map(([c, st]) => ({
      field: this.#byCompat.get(c)!.field,
      data: st.data,
      count: st.refs,
    }));
    chain.reserve(entries.length);
    chain.shrink(entries.length);
    if (entries.length) writeFlbEntries(chain, entries);
    return chain.head;
  }

  /**
   * Takes the handed-over FLB entries: each must be registered (`EBADMSG`
   * naming it otherwise) and used by exactly `count` handed-over files
   * (`uses` gives the number of files per file handler compatible).
   */
  adoptIncoming(
    entries: readonly FlbEntry[],
    uses: ReadonlyMap<string, number>,
    where: bigint,
  ): void {
    this.#adopted = true;
    for (const entry of entries) {
      if (!this.#byCompat.has(entry.compatible)) {
        throw new CorruptImageError(`unknown flb "${entry.compatible}" (not registered)`, where);
      }
      let files = 0;
      for (const [h, n] of uses) {
        if (this.of(h).some((f) => f.compatible === entry.compatible)) files += n;
      }
      if (files !== entry.count) {
        throw new CorruptImageError(
          `flb "${entry.compatible}": count ${entry.count}, but ${files} handed-over files use it`,
          where,
        );
      }
    }
    for (const entry of entries) {
      this.#incoming.set(entry.compatible, { entry, remaining: entry.count, state: "none" });
    }
  }

  /**
   * The incoming object of an FLB (the kernel's `liveupdate_flb_get_incoming`):
   * retrieved once on first use, the same object after, the same error
   * after a failed retrieve; `ENOENT` when it was not handed over or is finished.
   */
  incoming(compatible: string): unknown {
    const st = this.#incoming.get(compatible);
    if (!st || st.state === "finished") {
      throw new LuoError("ENOENT", `flb "${compatible}" was not handed over (or is finished)`);
    }
    if (st.state === "retrieved") return st.obj;
    if (st.state === "failed") throw st.error;
    const flb = this.#byCompat.get(compatible)!.ops;
    try {
      st.obj = this.#guard.run(
        `flb "${compatible}"`,
        "retrieve",
        () => flb.retrieve(this.#ctx, st.entry.data),
      );
      st.state = "retrieved";
      return st.obj;
    } catch (e) {
      st.state = "failed";
      st.error = e;
      throw e;
    }
  }

  /** A handed-over file of `handler` finished: the FLBs whose last file it was finish too. */
  finishFile(handler: string): void {
    for (const flb of this.of(handler)) {
      const st = this.#incoming.get(flb.compatible);
      if (!st || st.state === "finished" || --st.remaining > 0) continue;
      st.state = "finished";
      const obj = st.obj;
      this.#guard.run(
        `flb "${flb.compatible}"`,
        "finish",
        () => flb.finish(this.#ctx, obj, st.entry.data),
      );
    }
  }
}
