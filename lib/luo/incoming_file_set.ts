/**
 * The files of one incoming (handed-over) session, read in place from its
 * validated entries; per-file state exists only for files touched. Every
 * file reaches `canFinish` and `finish` with its retrieve status, as in the
 * kernel.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import type { FileEntries } from "../format/file_ser.ts";
import { tokenHalves } from "../format/token_index.ts";
import { type FileSetContext, identityOf, wrapHandlerError } from "./context.ts";
import type { FileHandler, IncomingFile, RetrieveStatus } from "./handler.ts";
import { type Token, toToken } from "./token.ts";

/** Per-file state of a touched file. */
interface Touched {
  file: IncomingFile & { status: RetrieveStatus; obj: unknown };
  error?: unknown;
  id?: unknown;
}

/** The files of an incoming session. */
export class IncomingFileSet {
  /** Name of the session. */
  readonly session: string;
  #ctx: FileSetContext;
  #entries: FileEntries;
  #touched = new Map<number, Touched>();
  #release: () => void;
  #finished = false;

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

  /** The compatible string of a file (`ENOENT` for an unknown token). */
  compatible(token: Token): string {
    return this.#entries.compatible(this.#find(toToken(token)));
  }

  #find(t: bigint): number {
    const [lo, hi] = tokenHalves(t);
    const i = this.#finished ? -1 : this.#entries.find(lo, hi);
    if (i < 0) {
      const why = this.#finished ? " (the session is finished)" : "";
      throw new LuoError("ENOENT", `session "${this.session}": no file with token ${t}${why}`);
    }
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

  /** The file as its handler sees it (a fresh one for a file never touched). */
  #file(i: number): Touched["file"] {
    return this.#touched.get(i)?.file ?? {
      session: this.session,
      token: this.#entries.token(i),
      data: this.#entries.data(i),
      status: "none",
      obj: undefined,
      private: undefined,
    };
  }

  /**
   * The object of `token`: the same object on every call after a success,
   * the same error again after a failure (sticky); `ENOENT` for an unknown
   * token or once the session is finished.
   */
  retrieve(token: Token): unknown {
    const t = toToken(token);
    const i = this.#find(t);
    const seen = this.#touched.get(i);
    if (seen?.file.status === "retrieved") return seen.file.obj;
    if (seen?.file.status === "failed") throw seen.error;
    const file = this.#file(i);
    const where = `session "${this.session}" token ${t}`;
    try {
      const h = this.#handler(i);
      const obj = this.#ctx.guard.run(
        `handler "${h.compatible}"`,
        "retrieve",
        () => h.retrieve(this.#ctx, file),
      );
      file.obj = obj;
      file.status = "retrieved";
      const id = identityOf(this.#ctx, h, obj, () => where);
      this.#touched.set(i, { file, id });
      this.#ctx.holders.set(id, file);
      return obj;
    } catch (e) {
      const error = wrapHandlerError(e, `${where}: retrieve failed`);
      file.status = "failed";
      this.#touched.set(i, { file, error });
      throw error;
    }
  }

  /** The object of `token` if it was retrieved already, else `undefined` (nothing is retrieved). */
  retrieved(token: Token): unknown {
    const t = toToken(token);
    const seen = this.#touched.get(this.#find(t));
    return seen?.file.status === "retrieved" ? seen.file.obj : undefined;
  }

  /** Whether every file's handler agrees to finish now (each sees its retrieve status). */
  canFinish(): boolean {
    for (let i = 0; i < this.#entries.count; i++) {
      const h = this.#handler(i);
      if (!h.canFinish) continue;
      const file = this.#file(i);
      const ok = this.#ctx.guard.run(
        `handler "${h.compatible}"`,
        "canFinish",
        () => h.canFinish!(this.#ctx, file),
      );
      if (!ok) return false;
    }
    return true;
  }

  /**
   * Finishes every file, newest first, with its retrieve status: retrieved
   * ones are left to their users, the others are discarded by their
   * handlers (their pages freed). Then the file blocks are freed and
   * retrieved objects are no longer busy. Throws the first handler error
   * after trying every file.
   */
  finish(): void {
    let first: unknown;
    for (let i = this.#entries.count - 1; i >= 0; i--) {
      const file = this.#file(i);
      try {
        const h = this.#handler(i);
        try {
          this.#ctx.guard.run(
            `handler "${h.compatible}"`,
            "finish",
            () => h.finish(this.#ctx, file),
          );
        } finally {
          this.#ctx.flbs.finishFile(h.compatible);
        }
      } catch (e) {
        first ??= wrapHandlerError(
          e,
          `session "${this.session}" token ${file.token}: finish failed`,
        );
      }
    }
    for (const t of this.#touched.values()) if (t.id !== undefined) this.#ctx.holders.delete(t.id);
    this.#finished = true;
    this.#touched.clear();
    this.#release();
    if (first) throw first;
  }
}
