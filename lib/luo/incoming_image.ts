/**
 * What the predecessor handed over, as one live update sees it: read once
 * (lazily, on first access) and validated; then its sessions are retrieved
 * by name. A failure to read it is kept and thrown again (`EIO` wrapping the
 * typed cause) on every later access.
 *
 * @module
 */

import { LiveUpdateError, LuoError } from "../errors.ts";
import type { Arena } from "../kho/arena.ts";
import type { FileSetContext } from "./context.ts";
import { filesByCompatible, readImage, type SessionRecord } from "./image.ts";
import { IncomingSession } from "./session.ts";

interface Entry {
  record: SessionRecord;
  session?: IncomingSession;
}

/** The incoming image of one live update. */
export class IncomingImage {
  #arena: Arena;
  #ctx: FileSetContext;
  #root: bigint;
  #number = 0n;
  #sessions: Map<string, Entry> | null = null;
  #error: LuoError | null = null;

  /** The image published at `root` (0n: nothing was handed over). */
  constructor(ctx: FileSetContext, root: bigint) {
    this.#arena = ctx.arena;
    this.#ctx = ctx;
    this.#root = root;
  }

  /** Whether anything was handed over. */
  get present(): boolean {
    return this.#root !== 0n;
  }

  /** Whether reading it failed (then every access throws that error). */
  get failed(): boolean {
    return this.#error !== null;
  }

  /** Reads it on first use; false when nothing was handed over; throws `EIO` when it cannot be used. */
  load(): boolean {
    if (this.#error) throw this.#error;
    if (this.#sessions) return true;
    if (this.#root === 0n) return false;
    try {
      const image = readImage(this.#arena, this.#root, {
        claim: true,
        maxBlocks: this.#ctx.maxBlocks,
        known: this.#ctx.handlers.compatibles(),
      });
      try {
        this.#ctx.flbs.adoptIncoming(image.flbs, filesByCompatible(image), image.flbHeader);
      } catch (e) {
        for (const r of image.sessions) r.release();
        throw e;
      }
      this.#number = image.liveupdateNumber;
      this.#sessions = new Map(image.sessions.map((r) => [r.entry.name, { record: r }]));
      return true;
    } catch (cause) {
      if (!(cause instanceof LiveUpdateError)) throw cause;
      this.#error = new LuoError(
        "EIO",
        `incoming state of ${this.#arena.path} could not be restored: ${cause.message}`,
        { cause },
      );
      throw this.#error;
    }
  }

  /** Its `liveupdate-number` (0n when nothing was handed over). */
  get number(): bigint {
    return this.load() ? this.#number : 0n;
  }

  /** Names of its sessions not finished yet. */
  names(): string[] {
    return this.load() ? [...this.#sessions!.keys()] : [];
  }

  /** Sessions nobody retrieved yet. */
  unclaimed(): string[] {
    if (!this.load()) return [];
    return [...this.#sessions!].filter(([, v]) => !v.session).map(([k]) => k);
  }

  /** Whether a session was retrieved and is not finished yet. */
  get busy(): boolean {
    return this.#sessions !== null && [...this.#sessions.values()].some((e) => e.session);
  }

  /** A retrieved session that is not finished yet, by name. */
  retrieved(name: string): IncomingSession | undefined {
    return this.#sessions?.get(name)?.session;
  }

  /** Retrieves a session: `ENOENT` when absent, `EINVAL` when retrieved already. */
  retrieve(name: string): IncomingSession {
    if (!this.load()) {
      throw new LuoError("ENOENT", `no incoming session "${name}": nothing was handed over`);
    }
    const entry = this.#sessions!.get(name);
    if (!entry) throw new LuoError("ENOENT", `no incoming session "${name}"`);
    if (entry.session) {
      throw new LuoError("EINVAL", `incoming session "${name}" was already retrieved`);
    }
    const { record } = entry;
    entry.session = new IncomingSession(
      this.#ctx,
      name,
      record.entries,
      record.release,
      (s) => this.#sessions!.delete(s.name),
    );
    return entry.session;
  }
}
