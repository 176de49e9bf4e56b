/**
 * Sessions: named groups of files. An {@link OutgoingSession} is created in
 * this process to be handed over; an {@link IncomingSession} was handed over
 * by the predecessor and is retrieved, read and finished here.
 *
 * @module
 */

import { LuoError, typeOf } from "../errors.ts";
import type { FileEntries } from "../format/file_ser.ts";
import { sessionNameBytes } from "../format/session_ser.ts";
import type { FileSetContext } from "./context.ts";
import { IncomingFileSet } from "./incoming_file_set.ts";
import { OutgoingFileSet } from "./outgoing_file_set.ts";
import type { Token } from "./token.ts";

/**
 * A session created in this process; its files are handed over with it.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const s = luo.createSession("cache");
 * s.preserve(MemFile.from(luo.arena, new Uint8Array([1, 2, 3])), 1n);
 * console.log(s.tokens()); // [1n]
 * ```
 */
export class OutgoingSession {
  /**
   * The session's name.
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * console.log(luo.createSession("cache").name); // "cache"
   * ```
   */
  readonly name: string;
  /** @internal The name's bytes. */
  readonly nameBytes: Uint8Array;
  /** @internal */
  readonly files: OutgoingFileSet;
  #ctx: FileSetContext;
  #onClose: (s: OutgoingSession) => void;
  #closed = false;

  /** @internal Use `LiveUpdate.createSession`. */
  constructor(ctx: FileSetContext, name: string, onClose: (s: OutgoingSession) => void) {
    this.nameBytes = sessionNameBytes(name);
    this.name = name;
    this.#ctx = ctx;
    this.files = new OutgoingFileSet(ctx, name);
    this.#onClose = onClose;
  }

  #live(entry: string): void {
    this.#ctx.guard.check(`session "${this.name}" ${entry}`);
    if (this.#closed) throw new LuoError("EINVAL", `session "${this.name}" is closed`);
  }

  /**
   * Preserves `obj` under `token` (see the checks of the file set).
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.preserve(MemFile.from(luo.arena, new Uint8Array([1, 2])), 1n);
   * s.preserve(new Value({ started: Date.now() }), 2); // a safe integer works too
   * console.log(s.fileCount); // 2
   * ```
   */
  preserve(obj: unknown, token: Token): void {
    this.#live("preserve");
    this.files.preserve(obj, token);
  }

  /**
   * Unpreserves the file of `token`; the object stays usable.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * const file = MemFile.from(luo.arena, new Uint8Array([1, 2]));
   * s.preserve(file, 1n);
   * s.unpreserve(1n);
   * file.resize(4096); // not preserved: its size may change again
   * console.log(s.tokens(), file.size); // [] 4096
   * ```
   */
  unpreserve(token: Token): void {
    this.#live("unpreserve");
    this.files.unpreserve(token);
  }

  /**
   * Tokens in preservation order.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.preserve(new Value("b"), 7n);
   * s.preserve(new Value("a"), 3);
   * console.log(s.tokens()); // [7n, 3n]
   * ```
   */
  tokens(): bigint[] {
    return this.files.tokens();
  }

  /**
   * Number of files.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.preserve(new Value(1), 1n);
   * console.log(s.fileCount); // 1
   * ```
   */
  get fileCount(): number {
    return this.files.count;
  }

  /**
   * Whether {@link close} was called.
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.close();
   * console.log(s.closed, luo.sessions()); // true []
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Unpreserves every file (newest first) and drops the session; the objects stay usable.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * using file = MemFile.from(luo.arena, new Uint8Array([1]));
   * s.preserve(file, 1n);
   * s.close(); // the session is not handed over; the file is not preserved any more
   * console.log(file.preserved, luo.sessions()); // false []
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#ctx.guard.check(`session "${this.name}" close`);
    this.files.destroy();
    this.#closed = true;
    this.#onClose(this);
  }
}

/**
 * A class whose instances `retrieve` may be asked for (e.g. `MemFile`, `Value`).
 *
 * @example
 * ```ts
 * import { type IncomingSession, LiveUpdate, type ObjectType, Value } from "@luo/live-update";
 * // A retrieve that names what it expects when the token holds something else.
 * function expect<T>(s: IncomingSession, token: bigint, type: ObjectType<T>): T {
 *   return s.retrieve(token, type); // EINVAL naming both classes on a mismatch
 * }
 * const old = LiveUpdate.create({ size: 1 << 20 });
 * old.createSession("svc").preserve(new Value([1, 2, 3]), 1n);
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path);
 * const s = luo.retrieveSession("svc");
 * console.log(expect(s, 1n, Value<number[]>).value); // [1, 2, 3]
 * s.finish();
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface ObjectType<T> {
  /** The class's prototype: the object must have it in its chain. */
  readonly prototype: T;
  /** The class's name, for error messages. */
  readonly name: string;
}

/**
 * A session handed over by the predecessor, after `LiveUpdate.retrieveSession`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * const old = LiveUpdate.start(path, { size: 1 << 20 });
 * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
 * old.handover();
 *
 * const luo = LiveUpdate.start(path, { size: 1 << 20 }); // the successor
 * const s = luo.retrieveSession("cache");
 * const file = s.retrieve(1n, MemFile); // typed: a MemFile, or EINVAL
 * console.log(file.read()); // Uint8Array [7]
 * s.finish();
 * luo.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class IncomingSession {
  /**
   * The session's name.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * console.log(s.name); // "cache"
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  readonly name: string;
  #ctx: FileSetContext;
  #files: IncomingFileSet;
  #finished = false;
  #onFinish: (s: IncomingSession) => void;

  /** @internal Use `LiveUpdate.retrieveSession`. */
  constructor(
    ctx: FileSetContext,
    name: string,
    entries: FileEntries,
    release: () => void,
    onFinish: (s: IncomingSession) => void,
  ) {
    this.name = name;
    this.#ctx = ctx;
    this.#files = new IncomingFileSet(ctx, name, entries, release);
    this.#onFinish = onFinish;
  }

  /**
   * Tokens in preservation order.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * console.log(s.tokens()); // [1n]
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  tokens(): bigint[] {
    return this.#files.tokens();
  }

  /**
   * Number of files.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * console.log(s.fileCount); // 1
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  get fileCount(): number {
    return this.#files.count;
  }

  /**
   * Compatible string of a file (`ENOENT` for an unknown token).
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * console.log(s.compatible(1n)); // "memfd-v2": the handler that will retrieve it
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  compatible(token: Token): string {
    return this.#files.compatible(token);
  }

  /**
   * Whether {@link finish} succeeded.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * s.finish();
   * console.log(s.finished); // true
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  get finished(): boolean {
    return this.#finished;
  }

  /**
   * The object preserved under `token`: `ENOENT` when unknown or once the
   * session is finished; the same object on every call; after a failed
   * retrieve the same error again. With `type`, the object must be an
   * instance of it (`EINVAL` otherwise), and the result is typed.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * const file = s.retrieve(1n, MemFile); // a MemFile over the predecessor's pages
   * console.log(file.read(), s.retrieve(1n) === file); // Uint8Array [7] true
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  retrieve<T = unknown>(token: Token, type?: ObjectType<T>): T {
    this.#ctx.guard.check(`session "${this.name}" retrieve`);
    const obj = this.#files.retrieve(token);
    if (type !== undefined && !Object.prototype.isPrototypeOf.call(type.prototype, obj as object)) {
      throw new LuoError(
        "EINVAL",
        `session "${this.name}" token ${token}: holds a ${typeOf(obj)}, not a ${type.name}`,
      );
    }
    return obj as T;
  }

  /** @internal The object of `token`, retrieved once, for handler ops (no re-entrancy check). */
  retrieveForHandler(token: Token): unknown {
    return this.#files.retrieve(token);
  }

  /**
   * The object of `token` if it was retrieved already, else `undefined`;
   * nothing is retrieved (the kernel's `liveupdate_get_file_incoming` without
   * a second retrieve). Allowed from inside handler ops.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * console.log(s.retrieved(1n)); // undefined: nobody asked for it yet
   * const file = s.retrieve(1n);
   * console.log(s.retrieved(1n) === file); // true
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  retrieved(token: Token): unknown {
    return this.#files.retrieved(token);
  }

  /**
   * Ends the session, all or nothing: `EBUSY` (and nothing changes) when a
   * file cannot finish yet; otherwise every file is finished newest first,
   * files never retrieved are discarded and their pages freed. Finishing
   * twice does nothing.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * s.finish(); // token 1 was never retrieved: its pages are freed
   * console.log(s.finished, luo.incomingSessions()); // true []
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  finish(): void {
    this.#ctx.guard.check(`session "${this.name}" finish`);
    if (this.#finished) return;
    if (!this.#files.canFinish()) {
      throw new LuoError(
        "EBUSY",
        `session "${this.name}": a file cannot finish yet; nothing was changed`,
      );
    }
    this.#finished = true;
    try {
      this.#files.finish();
    } finally {
      this.#onFinish(this);
    }
  }

  /**
   * Closes the session: finishes it when every file can finish (the
   * kernel's release of a session file); otherwise leaves it unfinished
   * (its pages are released at the next handover or by
   * `releaseUnclaimed`). Returns whether it is finished.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([7])), 1n);
   * old.handover(); // its temporary arena file stays for the successor
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * s.retrieve(1n, MemFile);
   * console.log(s.close()); // true: every file could finish
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  close(): boolean {
    if (this.#finished) return true;
    if (!this.#files.canFinish()) return false;
    this.finish();
    return true;
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
