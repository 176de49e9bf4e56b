/**
 * Sessions: named groups of files. An {@link OutgoingSession} is created in
 * this process to be handed over; an {@link IncomingSession} was handed over
 * by the predecessor and is retrieved, read and finished here.
 *
 * @module
 */

import { MAX_NAME_BYTES, utf8 } from "./abi.ts";
import type { FileEntries } from "./file_entries.ts";
import { LuoError } from "./errors.ts";
import { type FileSetContext, IncomingFileSet, OutgoingFileSet, type Token } from "./file.ts";

/** Validates a session name: 1..63 bytes, no NUL. Returns its bytes. */
export function checkSessionName(name: string): Uint8Array {
  if (typeof name !== "string") throw new LuoError("EINVAL", `session name must be a string`);
  const bytes = utf8(name);
  if (bytes.length === 0) throw new LuoError("EINVAL", "session name is empty");
  if (bytes.length > MAX_NAME_BYTES) {
    throw new LuoError(
      "EINVAL",
      `session name "${name}" is ${bytes.length} bytes, at most ${MAX_NAME_BYTES}`,
    );
  }
  if (bytes.includes(0)) {
    throw new LuoError("EINVAL", `session name ${JSON.stringify(name)} contains a NUL`);
  }
  return bytes;
}

/**
 * A session created in this process; its files are handed over with it.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "../mod.ts";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const s = luo.createSession("cache");
 * s.preserve(MemFile.from(luo.arena, new Uint8Array([1, 2, 3])), 1n);
 * console.log(s.tokens()); // [1n]
 * ```
 */
export class OutgoingSession {
  /** The session's name. */
  readonly name: string;
  /** @internal The name's bytes. */
  readonly nameBytes: Uint8Array;
  /** @internal */
  readonly files: OutgoingFileSet;
  #onClose: (s: OutgoingSession) => void;
  #closed = false;

  /** @internal Use `LiveUpdate.createSession`. */
  constructor(ctx: FileSetContext, name: string, onClose: (s: OutgoingSession) => void) {
    this.nameBytes = checkSessionName(name);
    this.name = name;
    this.files = new OutgoingFileSet(ctx, name);
    this.#onClose = onClose;
  }

  #live(): void {
    if (this.#closed) throw new LuoError("EINVAL", `session "${this.name}" is closed`);
  }

  /** Preserves `obj` under `token` (see the checks of the file set). */
  preserve(obj: unknown, token: Token): void {
    this.#live();
    this.files.preserve(obj, token);
  }

  /** Unpreserves the file of `token`; the object stays usable. */
  unpreserve(token: Token): void {
    this.#live();
    this.files.unpreserve(token);
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    return this.files.tokens();
  }

  /** Number of files. */
  get fileCount(): number {
    return this.files.count;
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Unpreserves every file (newest first) and drops the session; the objects stay usable. */
  close(): void {
    if (this.#closed) return;
    this.files.destroy();
    this.#closed = true;
    this.#onClose(this);
  }
}

/**
 * A session handed over by the predecessor, after `LiveUpdate.retrieveSession`.
 *
 * @example
 * ```ts ignore
 * const s = luo.retrieveSession("cache");
 * const file = s.retrieve(1n) as MemFile;
 * s.finish();
 * ```
 */
export class IncomingSession {
  /** The session's name. */
  readonly name: string;
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
    this.#files = new IncomingFileSet(ctx, name, entries, release);
    this.#onFinish = onFinish;
  }

  /** Tokens in preservation order. */
  tokens(): bigint[] {
    return this.#files.tokens();
  }

  /** Number of files. */
  get fileCount(): number {
    return this.#files.count;
  }

  /** Compatible string of a file (`ENOENT` for an unknown token). */
  compatible(token: Token): string {
    return this.#files.compatible(token);
  }

  /** Whether {@link finish} succeeded. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The object preserved under `token` (`ENOENT` when unknown; sticky errors). */
  retrieve(token: Token): unknown {
    if (this.#finished) throw new LuoError("EINVAL", `session "${this.name}" is finished`);
    return this.#files.retrieve(token);
  }

  /**
   * Ends the session, all or nothing: `EBUSY` (and nothing changes) when a
   * file cannot finish yet; otherwise every file is finished newest first,
   * files never retrieved are discarded and their pages freed. Finishing
   * twice does nothing.
   */
  finish(): void {
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
}
