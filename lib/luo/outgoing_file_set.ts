/**
 * The files of one outgoing session: preserved through handlers under
 * 64-bit tokens (O(1) lookup), serialized into a file block chain at
 * handover. Entries are kept serialized, in preservation order, in a
 * staging buffer laid out exactly as the file blocks, so that a handover
 * copies them block by block. Unpreserved entries leave a hole that is
 * compacted (in order) before the next handover or when holes outnumber
 * files.
 *
 * @module
 */

import { type LiveUpdateError, LuoError, typeOf } from "../errors.ts";
import { BlockChain } from "../format/block.ts";
import { FILE_CHAIN, FILE_SER, writeFileEntry } from "../format/file_ser.ts";
import { tokenHalves, TokenIndex } from "../format/token_index.ts";
import {
  describeHolder,
  type FileSetContext,
  identityOf,
  withRollbackErrors,
  wrapHandlerError,
} from "./context.ts";
import type { OutgoingFile, Registered } from "./handler.ts";
import { type Token, toToken, U64_MAX } from "./token.ts";

const ENTRY = FILE_SER.size;

/** The registered handler that takes `obj` (no closure per preserve). */
const findHandler = (ctx: FileSetContext, obj: unknown) => ctx.handlers.find(ctx, obj);
/** A handler's freeze of the file in `slot` (it has one). */
const callFreeze = (slot: Slot, ctx: FileSetContext): void =>
  slot.reg.handler.freeze!(ctx, slot.file);
/** A handler's preserve of the file in `slot`. */
const callPreserve = (slot: Slot, ctx: FileSetContext): unknown =>
  slot.reg.handler.preserve(ctx, slot.file);

/** One preserved file. */
interface Slot {
  reg: Registered;
  file: OutgoingFile & { data: bigint };
  id: unknown;
}

/** The files of an outgoing session. */
export class OutgoingFileSet {
  /** Name of the session. */
  readonly session: string;
  #ctx: FileSetContext;
  #chain: BlockChain;
  #stage = new Uint8Array(ENTRY * 8);
  #dv = new DataView(this.#stage.buffer);
  #slots: (Slot | undefined)[] = [];
  #index = new TokenIndex();
  #used = 0; // slots, holes included
  #live = 0;
  #frozen = 0;

  /** An empty set for `session`. */
  constructor(ctx: FileSetContext, session: string) {
    this.#ctx = ctx;
    this.session = session;
    this.#chain = BlockChain.outgoing(ctx.arena, FILE_CHAIN, ctx.maxBlocks);
  }

  /** Number of files. */
  get count(): number {
    return this.#live;
  }

  /** Physical address of the first file block (0n when empty). */
  get head(): bigint {
    return this.#chain.head;
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < this.#used; i++) {
      const s = this.#slots[i];
      if (s) out.push(s.file.token);
    }
    return out;
  }

  #where(t: bigint): string {
    return `session "${this.session}" token ${t}`;
  }

  /**
   * Preserves `obj` under `token`. Checks, in order: token used (`EEXIST`),
   * block cap (`ENOSPC`), no handler (`ENOENT`), object preserved or
   * retrieved and not finished (`EBUSY`), then the handler's own error;
   * block allocation may give `ENOMEM`. A handler that returns anything but
   * a u64 bigint is `EINVAL`, and its preserve is undone.
   */
  preserve(obj: unknown, token: Token): void {
    const t = toToken(token);
    // The halves without BigInt arithmetic (no garbage) below 2^53.
    const v = typeof token === "number" ? token : Number(t);
    const small = v <= Number.MAX_SAFE_INTEGER;
    const lo = small ? v >>> 0 : Number(t & 0xffffffffn);
    const hi = small ? Math.floor(v / 2 ** 32) : Number(t >> 32n);
    if (this.#index.get(lo, hi) >= 0) {
      throw new LuoError("EEXIST", `${this.#where(t)}: token already used`);
    }
    const n = this.#live + 1;
    if (!this.#chain.fits(n)) {
      throw new LuoError(
        "ENOSPC",
        `${this.#where(t)}: ${n} files exceed the cap of ${this.#chain.maxBlocks} file blocks`,
      );
    }
    const ctx = this.#ctx;
    const reg = ctx.guard.call("a handler's", "canPreserve", findHandler, ctx, obj);
    if (!reg) {
      throw new LuoError(
        "ENOENT",
        `${this.#where(t)}: no handler accepts this object (${typeOf(obj)})`,
      );
    }
    const id = reg.handler.getId ? identityOf(ctx, reg.handler, obj, () => this.#where(t)) : obj;
    const holder = ctx.holders.get(id);
    if (holder) throw new LuoError("EBUSY", `${this.#where(t)}: ${describeHolder(holder)}`);
    this.#chain.reserve(n);
    const file = { session: this.session, token: t, obj, data: 0n, private: undefined as unknown };
    const slot: Slot = { reg, file, id };
    try {
      ctx.flbs.preserveFile(reg.handler.compatible);
      try {
        file.data = this.#callPreserve(slot);
      } catch (e) {
        ctx.flbs.unpreserveFile(reg.handler.compatible);
        throw e;
      }
    } catch (e) {
      this.#chain.shrink(this.#live);
      throw e;
    }
    this.#append(slot, lo, hi);
    ctx.holders.set(id, file);
  }

  /** Runs the handler's preserve and checks what it returns (undoing it when wrong). */
  #callPreserve(slot: Slot): bigint {
    const h = slot.reg.handler;
    let data: unknown;
    try {
      data = this.#ctx.guard.call(slot.reg.label, "preserve", callPreserve, slot, this.#ctx);
    } catch (e) {
      throw wrapHandlerError(
        e,
        `${this.#where(slot.file.token)}: ${slot.reg.label} preserve failed`,
      );
    }
    if (typeof data === "bigint" && data >= 0n && data <= U64_MAX) return data;
    slot.file.data = typeof data === "bigint" ? data : 0n;
    const undo: LiveUpdateError[] = [];
    try {
      this.#ctx.guard.run(
        `handler "${h.compatible}"`,
        "unpreserve",
        () => h.unpreserve(this.#ctx, slot.file),
      );
    } catch (e) {
      undo.push(
        wrapHandlerError(e, `${this.#where(slot.file.token)}: ${slot.reg.label} unpreserve failed`),
      );
    }
    const error = new LuoError(
      "EINVAL",
      `${this.#where(slot.file.token)}: ${slot.reg.label} preserve returned ${typeOf(data)} ${
        String(data)
      }, want a bigint in 0..2^64-1${undo.length === 0 ? "; the preserve was undone" : ""}`,
    );
    throw withRollbackErrors(error, undo);
  }

  #append(slot: Slot, lo: number, hi: number): void {
    const i = this.#used++;
    if ((i + 1) * ENTRY > this.#stage.length) this.#growStage();
    writeFileEntry(this.#dv, this.#stage, i * ENTRY, slot.reg.field, slot.file.data, lo, hi);
    this.#slots[i] = slot;
    this.#index.set(lo, hi, i);
    this.#live++;
  }

  #growStage(): void {
    const next = new Uint8Array(this.#stage.length * 2);
    next.set(this.#stage);
    this.#stage = next;
    this.#dv = new DataView(next.buffer);
  }

  /** The token of `obj` (by its handler id) in this set, or `undefined`. */
  tokenOf(id: unknown): bigint | undefined {
    const h = this.#ctx.holders.get(id);
    return h && h.status === undefined && h.session === this.session ? h.token : undefined;
  }

  /** Unpreserves the file of `token` (`ENOENT` when absent); the object stays usable. */
  unpreserve(token: Token): void {
    const t = toToken(token);
    const [lo, hi] = tokenHalves(t);
    const i = this.#index.get(lo, hi);
    if (i < 0) throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}`);
    const slot = this.#slots[i]!;
    const h = slot.reg.handler;
    const op = `${slot.reg.label} unpreserve`;
    this.#ctx.guard.run(slot.reg.label, "unpreserve", () => {
      try {
        h.unpreserve(this.#ctx, slot.file);
      } catch (e) {
        throw wrapHandlerError(e, `${this.#where(t)}: ${op} failed`);
      }
    });
    this.#ctx.flbs.unpreserveFile(h.compatible);
    this.#index.delete(lo, hi);
    this.#slots[i] = undefined;
    this.#live--;
    this.#ctx.holders.delete(slot.id);
    while (this.#used > 0 && !this.#slots[this.#used - 1]) this.#used--;
    if (this.#used - this.#live > Math.max(64, this.#live)) this.#compact();
    this.#chain.shrink(this.#live);
  }

  /** Closes the holes left by unpreserve, keeping the order. */
  #compact(): void {
    if (this.#used === this.#live) return; // no hole
    let to = 0;
    for (let from = 0; from < this.#used; from++) {
      const s = this.#slots[from];
      if (!s) continue;
      if (to !== from) {
        this.#stage.copyWithin(to * ENTRY, from * ENTRY, (from + 1) * ENTRY);
        this.#slots[to] = s;
        const [lo, hi] = tokenHalves(s.file.token);
        this.#index.update(lo, hi, to);
      }
      to++;
    }
    this.#slots.length = to;
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
      const slot = this.#slots[i]!;
      const { reg, file } = slot;
      if (!reg.handler.freeze) {
        this.#frozen++;
        continue;
      }
      try {
        this.#ctx.guard.call(reg.label, "freeze", callFreeze, slot, this.#ctx);
      } catch (e) {
        const error = wrapHandlerError(e, `${this.#where(file.token)}: ${reg.label} freeze failed`);
        throw withRollbackErrors(error, this.unfreeze());
      }
      this.#frozen++;
    }
  }

  /**
   * Unfreezes the files frozen by the last {@link freeze} (in order), all of
   * them even when one fails, and clears the blocks; returns the failures.
   */
  unfreeze(): LiveUpdateError[] {
    const errors: LiveUpdateError[] = [];
    for (let i = 0; i < this.#frozen; i++) {
      const { reg, file } = this.#slots[i]!;
      const h = reg.handler;
      if (!h.unfreeze) continue;
      try {
        this.#ctx.guard.run(reg.label, "unfreeze", () => h.unfreeze!(this.#ctx, file));
      } catch (e) {
        errors.push(
          wrapHandlerError(e, `${this.#where(file.token)}: ${reg.label} unfreeze failed`),
        );
      }
    }
    this.#frozen = 0;
    this.#chain.clear();
    return errors;
  }

  /** Copies the serialized entries into the chain, block by block (no allocation). */
  fill(): void {
    this.#compact();
    this.#chain.fillBytes(this.#live, this.#stage);
  }
}
