/**
 * File sets: the files of one session. Outgoing sets preserve objects
 * through handlers under 64-bit tokens (O(1) lookup) and serialize into a
 * file block chain at handover; incoming sets hold what the predecessor
 * handed over and give it back by token.
 *
 * @module
 */

import { FILE_CHAIN, U64_MAX, utf8, writeFileEntry } from "./abi.ts";
import { BlockChain } from "./block.ts";
import { LiveUpdateError, LuoError } from "./errors.ts";
import type { FileHandler, HandlerContext, HandlerRegistry } from "./handler.ts";

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

interface OutgoingFile {
  token: bigint;
  obj: unknown;
  handler: FileHandler;
  compat: Uint8Array;
  data: bigint;
}

/** The files of an outgoing session. */
export class OutgoingFileSet {
  readonly session: string;
  #ctx: FileSetContext;
  #files = new Map<bigint, OutgoingFile>();
  #chain: BlockChain;
  #frozen = 0;

  /** An empty set for `session`. */
  constructor(ctx: FileSetContext, session: string) {
    this.#ctx = ctx;
    this.session = session;
    this.#chain = new BlockChain(ctx.arena, FILE_CHAIN, ctx.maxBlocks);
  }

  /** Number of files. */
  get count(): number {
    return this.#files.size;
  }

  /** Physical address of the first file block (0n when empty). */
  get head(): bigint {
    return this.#chain.head;
  }

  /** Number of file blocks. */
  get blocks(): number {
    return this.#chain.blocks;
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    return [...this.#files.keys()];
  }

  /** Whether `token` is used. */
  has(token: Token): boolean {
    return this.#files.has(toToken(token));
  }

  /**
   * Preserves `obj` under `token`. Checks, in order: token used (`EEXIST`),
   * block cap (`ENOSPC`), no handler (`ENOENT`), object preserved elsewhere
   * (`EBUSY`), then the handler's own error; block allocation may give `ENOMEM`.
   */
  preserve(obj: unknown, token: Token): void {
    const t = toToken(token);
    const where = `session "${this.session}" token ${t}`;
    if (this.#files.has(t)) throw new LuoError("EEXIST", `${where}: token already used`);
    const n = this.#files.size + 1;
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
      this.#chain.shrink(this.#files.size);
      throw wrap(e, `${where}: handler "${handler.compatible}" preserve failed`);
    }
    this.#files.set(t, { token: t, obj, handler, compat: utf8(handler.compatible), data });
    this.#ctx.preservedObjects.set(obj, this.session);
  }

  /** Unpreserves the file of `token` (`ENOENT` when absent); the object stays usable. */
  unpreserve(token: Token): void {
    const t = toToken(token);
    const f = this.#files.get(t);
    if (!f) throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}`);
    f.handler.unpreserve(this.#ctx, f.obj, f.data);
    this.#files.delete(t);
    this.#ctx.preservedObjects.delete(f.obj);
    this.#chain.shrink(this.#files.size);
  }

  /** Unpreserves every file, newest first, and frees the chain. */
  destroy(): void {
    for (const t of this.tokens().reverse()) this.unpreserve(t);
    this.#chain.destroy();
  }

  /** Freezes every file in order; on a failure unfreezes those frozen and rethrows. */
  freeze(): void {
    this.#frozen = 0;
    for (const f of this.#files.values()) {
      try {
        f.handler.freeze(this.#ctx, f.obj, f.data);
      } catch (e) {
        this.unfreeze();
        throw wrap(
          e,
          `session "${this.session}" token ${f.token}: handler "${f.handler.compatible}" freeze failed`,
        );
      }
      this.#frozen++;
    }
  }

  /** Unfreezes the files frozen by the last {@link freeze} (in order) and clears the blocks. */
  unfreeze(): void {
    let i = 0;
    for (const f of this.#files.values()) {
      if (i++ >= this.#frozen) break;
      f.handler.unfreeze(this.#ctx, f.obj, f.data);
    }
    this.#frozen = 0;
    this.#chain.clear();
  }

  /** Writes every file entry into the chain (no allocation). */
  fill(): void {
    const files = [...this.#files.values()];
    this.#chain.fill(files.length, (dv, bytes, off, i) => {
      const f = files[i];
      writeFileEntry(dv, bytes, off, f.compat, f.data, f.token);
    });
  }
}

/** One handed-over file as read from the image. */
export interface FileRecord {
  compatible: string;
  data: bigint;
  token: bigint;
}

type IncomingState =
  | { kind: "pending" }
  | { kind: "retrieved"; obj: unknown }
  | { kind: "failed"; error: unknown }
  | { kind: "finished" };

/** The files of an incoming (handed-over) session. */
export class IncomingFileSet {
  readonly session: string;
  #ctx: FileSetContext;
  #files = new Map<bigint, { rec: FileRecord; state: IncomingState }>();

  /** A set over records already validated (unique tokens). */
  constructor(ctx: FileSetContext, session: string, records: FileRecord[]) {
    this.#ctx = ctx;
    this.session = session;
    for (const rec of records) this.#files.set(rec.token, { rec, state: { kind: "pending" } });
  }

  /** Number of files. */
  get count(): number {
    return this.#files.size;
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    return [...this.#files.keys()];
  }

  /** The compatible string of a file. */
  compatible(token: Token): string {
    return this.#get(toToken(token)).rec.compatible;
  }

  #get(t: bigint) {
    const f = this.#files.get(t);
    if (!f) throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}`);
    return f;
  }

  #handler(rec: FileRecord): FileHandler {
    const h = this.#ctx.handlers.get(rec.compatible);
    if (!h) {
      throw new LuoError(
        "ENOENT",
        `session "${this.session}" token ${rec.token}: no handler "${rec.compatible}"`,
      );
    }
    return h;
  }

  /**
   * The object of `token`: the same object on every call after a success,
   * the same error again after a failure (sticky).
   */
  retrieve(token: Token): unknown {
    const f = this.#get(toToken(token));
    switch (f.state.kind) {
      case "retrieved":
        return f.state.obj;
      case "failed":
        throw f.state.error;
      case "finished":
        throw new LuoError(
          "EINVAL",
          `session "${this.session}" token ${f.rec.token}: already finished`,
        );
    }
    try {
      const obj = this.#handler(f.rec).retrieve(this.#ctx, f.rec.data);
      f.state = { kind: "retrieved", obj };
      return obj;
    } catch (e) {
      const error = wrap(e, `session "${this.session}" token ${f.rec.token}: retrieve failed`);
      f.state = { kind: "failed", error };
      throw error;
    }
  }

  /** Whether every file's handler agrees to finish now. */
  canFinish(): boolean {
    for (const f of this.#files.values()) {
      if (f.state.kind === "finished" || f.state.kind === "failed") continue;
      const obj = f.state.kind === "retrieved" ? f.state.obj : undefined;
      if (!this.#handler(f.rec).canFinish(this.#ctx, obj, f.rec.data)) return false;
    }
    return true;
  }

  /**
   * Finishes every file, newest first: retrieved ones are left to their
   * users, the others are discarded (their pages freed). Files whose
   * retrieve failed are skipped. Throws the first handler error after
   * trying every file.
   */
  finish(): void {
    let first: unknown;
    for (const f of [...this.#files.values()].reverse()) {
      const st = f.state;
      if (st.kind === "finished" || st.kind === "failed") continue;
      try {
        this.#handler(f.rec).finish(
          this.#ctx,
          st.kind === "retrieved" ? st.obj : undefined,
          f.rec.data,
        );
      } catch (e) {
        first ??= wrap(e, `session "${this.session}" token ${f.rec.token}: finish failed`);
      }
      f.state = { kind: "finished" };
    }
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
