/**
 * File sets: the files of one session. Outgoing sets preserve objects
 * through handlers under 64-bit tokens (O(1) lookup) and serialize into a
 * file block chain at handover; incoming sets hold what the predecessor
 * handed over and give it back by token.
 *
 * @module
 */

import { FILE_CHAIN, FILE_SER, U64_MAX, utf8 } from "./abi.ts";
import { BlockChain } from "./block.ts";
import { LiveUpdateError, LuoError } from "./errors.ts";
import type { FileEntries } from "./file_entries.ts";
import type { FileHandler, HandlerContext, HandlerRegistry } from "./handler.ts";
import { tokenHalves, TokenIndex } from "./token_index.ts";

/** A token as users give it: a non-negative integer below 2^64. */
export type Token = bigint | number;

/** Validates and normalizes a token. */
export function toToken(t: Token): bigint {
  if (typeof t === "number" && !Number.isSafeInteger(t)) {
    throw new LuoError("EINVAL", `token ${t} is not an integer`);
  }
  const v = BigInt(t);
  if (v < 0n || v > U64_MAX) throw new LuoError("EINVAL", `token ${t} is outside 0..2^64-1`);
  return v;
}

/** Everything a file set shares with its live update. */
export interface FileSetContext extends HandlerContext {
  readonly handlers: HandlerRegistry;
  /** Objects preserved in any session: one object is preserved once. */
  readonly preservedObjects: Map<unknown, string>;
  /** Block cap per chain. */
  readonly maxBlocks: number;
}

const ENTRY = FILE_SER.size;

/** The 48-byte compatible field of a handler, cached. */
const compatFields = new WeakMap<FileHandler, Uint8Array>();
function compatField(h: FileHandler): Uint8Array {
  let f = compatFields.get(h);
  if (!f) {
    f = new Uint8Array(FILE_SER.compatibleLen);
    f.set(utf8(h.compatible));
    compatFields.set(h, f);
  }
  return f;
}

/**
 * The files of an outgoing session. Entries are kept serialized, in
 * preservation order, in a staging buffer laid out exactly as the file
 * blocks, so that a handover copies them block by block; a token index
 * gives O(1) lookups. Unpreserved entries leave a hole that is compacted
 * (in order) before the next handover or when holes outnumber files.
 */
export class OutgoingFileSet {
  readonly session: string;
  #ctx: FileSetContext;
  #chain: BlockChain;
  #stage = new Uint8Array(ENTRY * 8);
  #dv = new DataView(this.#stage.buffer);
  #objs: unknown[] = [];
  #datas: bigint[] = []; // each file's data, as the handler returned it
  #handlers: (FileHandler | undefined)[] = [];
  #index = new TokenIndex();
  #used = 0; // slots, holes included
  #live = 0;
  #frozen = 0;

  /** An empty set for `session`. */
  constructor(ctx: FileSetContext, session: string) {
    this.#ctx = ctx;
    this.session = session;
    this.#chain = new BlockChain(ctx.arena, FILE_CHAIN, ctx.maxBlocks);
  }

  /** Number of files. */
  get count(): number {
    return this.#live;
  }

  /** Physical address of the first file block (0n when empty). */
  get head(): bigint {
    return this.#chain.head;
  }

  #tokenAt(slot: number): bigint {
    return this.#dv.getBigUint64(slot * ENTRY + FILE_SER.token, true);
  }

  #dataAt(slot: number): bigint {
    return this.#datas[slot];
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.#used; i++) if (this.#handlers[i]) out.push(this.#tokenAt(i));
    return out;
  }

  /**
   * Preserves `obj` under `token`. Checks, in order: token used (`EEXIST`),
   * block cap (`ENOSPC`), no handler (`ENOENT`), object preserved elsewhere
   * (`EBUSY`), then the handler's own error; block allocation may give `ENOMEM`.
   */
  preserve(obj: unknown, token: Token): void {
    const t = toToken(token);
    const [lo, hi] = tokenHalves(t);
    const where = `session "${this.session}" token ${t}`;
    if (this.#index.get(lo, hi) >= 0) throw new LuoError("EEXIST", `${where}: token already used`);
    const n = this.#live + 1;
    if (!this.#chain.fits(n)) {
      throw new LuoError(
        "ENOSPC",
        `${where}: ${n} files exceed the cap of ${this.#chain.maxBlocks} file blocks`,
      );
    }
    const handler = this.#ctx.handlers.find(this.#ctx, obj);
    if (!handler) {
      throw new LuoError("ENOENT", `${where}: no handler accepts this object (${describe(obj)})`);
    }
    const owner = this.#ctx.preservedObjects.get(obj);
    if (owner !== undefined) {
      throw new LuoError("EBUSY", `${where}: object already preserved in session "${owner}"`);
    }
    this.#chain.reserve(n);
    let data: bigint;
    try {
      data = handler.preserve(this.#ctx, obj);
    } catch (e) {
      this.#chain.shrink(this.#live);
      throw wrap(e, `${where}: handler "${handler.compatible}" preserve failed`);
    }
    const slot = this.#used++;
    if ((slot + 1) * ENTRY > this.#stage.length) this.#growStage();
    const off = slot * ENTRY;
    this.#stage.set(compatField(handler), off);
    this.#dv.setBigUint64(off + FILE_SER.data, data, true);
    this.#dv.setUint32(off + FILE_SER.token, lo, true);
    this.#dv.setUint32(off + FILE_SER.token + 4, hi, true);
    this.#objs[slot] = obj;
    this.#datas[slot] = data;
    this.#handlers[slot] = handler;
    this.#index.set(lo, hi, slot);
    this.#live++;
    this.#ctx.preservedObjects.set(obj, this.session);
  }

  #growStage(): void {
    const next = new Uint8Array(this.#stage.length * 2);
    next.set(this.#stage);
    this.#stage = next;
    this.#dv = new DataView(next.buffer);
  }

  /** Unpreserves the file of `token` (`ENOENT` when absent); the object stays usable. */
  unpreserve(token: Token): void {
    const t = toToken(token);
    const [lo, hi] = tokenHalves(t);
    const slot = this.#index.get(lo, hi);
    if (slot < 0) {
      throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}`);
    }
    const obj = this.#objs[slot];
    this.#handlers[slot]!.unpreserve(this.#ctx, obj, this.#dataAt(slot));
    this.#index.delete(lo, hi);
    this.#objs[slot] = undefined;
    this.#datas[slot] = 0n;
    this.#handlers[slot] = undefined;
    this.#live--;
    this.#ctx.preservedObjects.delete(obj);
    while (this.#used > 0 && !this.#handlers[this.#used - 1]) this.#used--;
    if (this.#used - this.#live > Math.max(64, this.#live)) this.#compact();
    this.#chain.shrink(this.#live);
  }

  /** Closes the holes left by unpreserve, keeping the order. */
  #compact(): void {
    if (this.#used === this.#live) return; // no hole
    let to = 0;
    for (let from = 0; from < this.#used; from++) {
      const h = this.#handlers[from];
      if (!h) continue;
      if (to !== from) {
        this.#stage.copyWithin(to * ENTRY, from * ENTRY, (from + 1) * ENTRY);
        this.#objs[to] = this.#objs[from];
        this.#datas[to] = this.#datas[from];
        this.#handlers[to] = h;
        const w = to * ENTRY + FILE_SER.token;
        this.#index.update(this.#dv.getUint32(w, true), this.#dv.getUint32(w + 4, true), to);
      }
      to++;
    }
    this.#objs.length = to;
    this.#datas.length = to;
    this.#handlers.length = to;
    this.#used = to;
  }

  /** Unpreserves every file, newest first, and frees the chain. */
  destroy(): void {
    for (const t of this.tokens().reverse()) this.unpreserve(t);
    this.#chain.destroy();
  }

  /** Freezes every file in order; on a failure unfreezes those frozen and rethrows. */
  freeze(): void {
    this.#compact();
    this.#frozen = 0;
    for (let i = 0; i < this.#used; i++) {
      const h = this.#handlers[i]!;
      try {
        h.freeze(this.#ctx, this.#objs[i], this.#dataAt(i));
      } catch (e) {
        this.unfreeze();
        throw wrap(
          e,
          `session "${this.session}" token ${
            this.#tokenAt(i)
          }: handler "${h.compatible}" freeze failed`,
        );
      }
      this.#frozen++;
    }
  }

  /** Unfreezes the files frozen by the last {@link freeze} (in order) and clears the blocks. */
  unfreeze(): void {
    for (let i = 0; i < this.#frozen; i++) {
      this.#handlers[i]!.unfreeze(this.#ctx, this.#objs[i], this.#dataAt(i));
    }
    this.#frozen = 0;
    this.#chain.clear();
  }

  /** Copies the serialized entries into the chain, block by block (no allocation). */
  fill(): void {
    this.#compact();
    this.#chain.fillBytes(this.#live, this.#stage);
  }
}

type IncomingState =
  | { kind: "retrieved"; obj: unknown }
  | { kind: "failed"; error: unknown }
  | { kind: "finished" };

/**
 * The files of an incoming (handed-over) session, read in place from its
 * validated entries; per-file state exists only for files touched.
 */
export class IncomingFileSet {
  readonly session: string;
  #ctx: FileSetContext;
  #entries: FileEntries;
  #state = new Map<number, IncomingState>();
  #release: () => void;

  /** A set over validated entries; `release` frees their blocks once finished. */
  constructor(ctx: FileSetContext, session: string, entries: FileEntries, release: () => void) {
    this.#ctx = ctx;
    this.session = session;
    this.#entries = entries;
    this.#release = release;
  }

  /** Number of files. */
  get count(): number {
    return this.#entries.count;
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    return Array.from({ length: this.#entries.count }, (_, i) => this.#entries.token(i));
  }

  /** The compatible string of a file. */
  compatible(token: Token): string {
    return this.#entries.compatible(this.#find(toToken(token)));
  }

  #find(t: bigint): number {
    const [lo, hi] = tokenHalves(t);
    const i = this.#entries.find(lo, hi);
    if (i < 0) throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}`);
    return i;
  }

  #handler(i: number): FileHandler {
    const c = this.#entries.compatible(i);
    const h = this.#ctx.handlers.get(c);
    if (!h) {
      throw new LuoError(
        "ENOENT",
        `session "${this.session}" token ${this.#entries.token(i)}: no handler "${c}"`,
      );
    }
    return h;
  }

  /**
   * The object of `token`: the same object on every call after a success,
   * the same error again after a failure (sticky).
   */
  retrieve(token: Token): unknown {
    const t = toToken(token);
    const i = this.#find(t);
    const st = this.#state.get(i);
    if (st?.kind === "retrieved") return st.obj;
    if (st?.kind === "failed") throw st.error;
    if (st?.kind === "finished") {
      throw new LuoError("EINVAL", `session "${this.session}" token ${t}: already finished`);
    }
    try {
      const obj = this.#handler(i).retrieve(this.#ctx, this.#entries.data(i));
      this.#state.set(i, { kind: "retrieved", obj });
      return obj;
    } catch (e) {
      const error = wrap(e, `session "${this.session}" token ${t}: retrieve failed`);
      this.#state.set(i, { kind: "failed", error });
      throw error;
    }
  }

  /** Whether every file's handler agrees to finish now. */
  canFinish(): boolean {
    for (let i = 0; i < this.#entries.count; i++) {
      const st = this.#state.get(i);
      if (st?.kind === "finished" || st?.kind === "failed") continue;
      const obj = st?.kind === "retrieved" ? st.obj : undefined;
      if (!this.#handler(i).canFinish(this.#ctx, obj, this.#entries.data(i))) return false;
    }
    return true;
  }

  /**
   * Finishes every file, newest first: retrieved ones are left to their
   * users, the others are discarded (their pages freed). Files whose
   * retrieve failed are skipped. Then the file blocks are freed. Throws the
   * first handler error after trying every file.
   */
  finish(): void {
    let first: unknown;
    for (let i = this.#entries.count - 1; i >= 0; i--) {
      const st = this.#state.get(i);
      if (st?.kind === "finished" || st?.kind === "failed") continue;
      try {
        this.#handler(i).finish(
          this.#ctx,
          st?.kind === "retrieved" ? st.obj : undefined,
          this.#entries.data(i),
        );
      } catch (e) {
        first ??= wrap(
          e,
          `session "${this.session}" token ${this.#entries.token(i)}: finish failed`,
        );
      }
      this.#state.set(i, { kind: "finished" });
    }
    this.#release();
    if (first) throw first;
  }
}

function wrap(e: unknown, what: string): Error {
  if (e instanceof LiveUpdateError) return e;
  return new LuoError("EIO", `${what}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
  });
}

function describe(obj: unknown): string {
  if (obj === null) return "null";
  if (typeof obj !== "object") return typeof obj;
  return obj.constructor?.name ?? "object";
}
