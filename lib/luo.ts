/**
 * The Live Update Orchestrator: outgoing sessions to hand over, incoming
 * sessions handed over by the predecessor, the handler registry, and the
 * handover itself.
 *
 * @module
 */

import { DEFAULT_MAX_BLOCKS, SESSION_CHAIN, writeSessionEntry } from "./abi.ts";
import { BlockChain } from "./block.ts";
import { LiveUpdateError, LuoError } from "./errors.ts";
import type { FileSetContext } from "./file.ts";
import { type AnyFileHandler, type FileHandler, HandlerRegistry } from "./handler.ts";
import { memfdHandler } from "./handlers/memfd.ts";
import { valueHandler } from "./handlers/value.ts";
import { type Image, placeRoots, readImage } from "./image.ts";
import { Arena, type CreateOptions, type OpenOptions } from "./kho.ts";
import { IncomingSession, OutgoingSession } from "./session.ts";

/** Options shared by {@link LiveUpdate.create} and {@link LiveUpdate.open}. */
export interface LiveUpdateOptions {
  /** Safety cap on the blocks of one chain (default {@link DEFAULT_MAX_BLOCKS}). */
  maxBlocks?: number;
  /** Handlers to register besides the built-in ones, before anything is read. */
  handlers?: AnyFileHandler[];
}

/** What a handover did. */
export interface HandoverSummary {
  /** The number this handover carries (`liveupdate-number`). */
  liveupdateNumber: bigint;
  /** Sessions handed over. */
  sessions: number;
  /** Files handed over, in all sessions. */
  files: number;
  /** Physical address of the KHO root FDT. */
  root: bigint;
}

/** What {@link LiveUpdate.releaseUnclaimed} released. */
export interface ReleaseSummary {
  /** Incoming sessions discarded because nobody retrieved them. */
  sessions: string[];
  /** Handed-over regions freed that no session referenced any more. */
  regions: number;
  /** Pages of those regions. */
  pages: number;
  /** Errors met while discarding (damaged file data); the pages were freed anyway. */
  errors: LiveUpdateError[];
}

type State = "live" | "handed-over" | "closed";

/**
 * A live update over one arena: create sessions, preserve files, hand over;
 * in the successor, retrieve and finish what was handed over.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "../mod.ts";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * const s = luo.createSession("state");
 * s.preserve(MemFile.from(luo.arena, new TextEncoder().encode("hi")), 0n);
 * const path = luo.arena.path;
 * luo.handover(); // closes the arena: a successor may open it now
 *
 * using next = LiveUpdate.open(path);
 * const file = next.retrieveSession("state").retrieve(0n);
 * ```
 */
export class LiveUpdate {
  /** The arena ("physical memory"). */
  readonly arena: Arena;
  /** The handler registry (memfd-v1 and value-v1 are built in). */
  readonly handlers: HandlerRegistry = new HandlerRegistry();
  #ctx: FileSetContext;
  #outgoing = new Map<string, OutgoingSession>();
  #sessionChain: BlockChain;
  #state: State = "live";
  #image: Image | null = null;
  #incoming: Map<string, { records: Image["sessions"][number]; session?: IncomingSession }> | null =
    null;
  #incomingError: LuoError | null = null;
  #incomingRoot: bigint;

  private constructor(arena: Arena, options: LiveUpdateOptions) {
    this.arena = arena;
    const maxBlocks = options.maxBlocks ?? DEFAULT_MAX_BLOCKS;
    if (!Number.isSafeInteger(maxBlocks) || maxBlocks < 1) {
      throw new LuoError("EINVAL", `maxBlocks ${maxBlocks} must be a positive integer`);
    }
    this.#ctx = { arena, handlers: this.handlers, preservedObjects: new Map(), maxBlocks };
    this.#sessionChain = new BlockChain(arena, SESSION_CHAIN, maxBlocks);
    this.handlers.register(memfdHandler);
    this.handlers.register(valueHandler);
    for (const h of options.handlers ?? []) this.handlers.register(h);
    this.#incomingRoot = arena.info().incomingRoot;
  }

  /** Starts a first generation in a new arena. */
  static create(options: CreateOptions & LiveUpdateOptions = {}): LiveUpdate {
    const arena = Arena.create(options);
    try {
      return new LiveUpdate(arena, options);
    } catch (e) {
      arena.close();
      throw e;
    }
  }

  /** Opens an arena as the successor. Incoming state is read on first access. */
  static open(path: string, options: OpenOptions & LiveUpdateOptions = {}): LiveUpdate {
    const arena = Arena.open(path, options);
    try {
      return new LiveUpdate(arena, options);
    } catch (e) {
      arena.close();
      throw e;
    }
  }

  #live(): void {
    if (this.#state !== "live") {
      throw new LuoError("EINVAL", `live update of ${this.arena.path} is ${this.#state}`);
    }
  }

  /** Whether the predecessor handed anything over. */
  get hasIncoming(): boolean {
    return this.#incomingRoot !== 0n;
  }

  /** `liveupdate-number` of the incoming image (0n when nothing was handed over). */
  get incomingNumber(): bigint {
    return this.#loadIncoming() ? this.#image!.liveupdateNumber : 0n;
  }

  /** Creates an outgoing session: `EINVAL` for a bad name, `EEXIST` for a live duplicate. */
  createSession(name: string): OutgoingSession {
    this.#live();
    if (this.#outgoing.has(name)) throw new LuoError("EEXIST", `session "${name}" already exists`);
    const s = new OutgoingSession(this.#ctx, name, (closed) => {
      this.#outgoing.delete(closed.name);
      this.#sessionChain.shrink(this.#outgoing.size);
    });
    this.#sessionChain.reserve(this.#outgoing.size + 1);
    this.#outgoing.set(name, s);
    return s;
  }

  /** Names of the outgoing sessions, in creation order. */
  sessions(): string[] {
    return [...this.#outgoing.keys()];
  }

  /** The outgoing session of `name` (`ENOENT` when absent). */
  session(name: string): OutgoingSession {
    const s = this.#outgoing.get(name);
    if (!s) throw new LuoError("ENOENT", `no outgoing session "${name}"`);
    return s;
  }

  #loadIncoming(): boolean {
    if (this.#incomingError) throw this.#incomingError;
    if (this.#incoming) return true;
    if (this.#incomingRoot === 0n) return false;
    try {
      const image = readImage(this.arena, this.#incomingRoot, {
        claim: true,
        maxBlocks: this.#ctx.maxBlocks,
        known: (c) => this.handlers.get(c) !== undefined,
      });
      this.#image = image;
      this.#incoming = new Map(image.sessions.map((r) => [r.name, { records: r }]));
      this.#maybeReleaseIncoming();
      return true;
    } catch (cause) {
      if (!(cause instanceof LiveUpdateError)) throw cause;
      this.#incomingError = new LuoError(
        "EIO",
        `incoming state of ${this.arena.path} could not be restored: ${cause.message}`,
        { cause },
      );
      throw this.#incomingError;
    }
  }

  /** Names of the incoming sessions not finished yet (throws `EIO` if the image is damaged). */
  incomingSessions(): string[] {
    if (!this.#loadIncoming()) return [];
    return [...this.#incoming!.keys()];
  }

  /** Incoming sessions nobody retrieved yet. */
  unclaimedSessions(): string[] {
    if (!this.#loadIncoming()) return [];
    return [...this.#incoming!].filter(([, v]) => !v.session).map(([k]) => k);
  }

  /** Retrieves an incoming session: `ENOENT` when absent, `EINVAL` when retrieved already. */
  retrieveSession(name: string): IncomingSession {
    this.#live();
    if (!this.#loadIncoming()) {
      throw new LuoError("ENOENT", `no incoming session "${name}": nothing was handed over`);
    }
    const entry = this.#incoming!.get(name);
    if (!entry) throw new LuoError("ENOENT", `no incoming session "${name}"`);
    if (entry.session) {
      throw new LuoError("EINVAL", `incoming session "${name}" was already retrieved`);
    }
    const rec = entry.records;
    const release = () => {
      for (const b of rec.fileBlocks) this.arena.free(b.pa);
    };
    entry.session = new IncomingSession(this.#ctx, name, rec.entries, release, (s) => {
      this.#incoming!.delete(s.name);
      this.#maybeReleaseIncoming();
    });
    return entry.session;
  }

  /**
   * Releases everything handed over that nobody claimed: incoming sessions
   * never retrieved are discarded (their pages freed), then any handed-over
   * page still unclaimed (also after a damaged image) is freed. Errors of
   * individual discards (damaged file data) do not stop the release; they
   * are returned.
   */
  releaseUnclaimed(): ReleaseSummary {
    this.#live();
    const summary: ReleaseSummary = { sessions: [], regions: 0, pages: 0, errors: [] };
    if (!this.#incomingError && this.#loadIncoming()) {
      for (const name of this.unclaimedSessions()) {
        try {
          this.retrieveSession(name).finish();
        } catch (e) {
          if (!(e instanceof LiveUpdateError)) throw e;
          summary.errors.push(e);
        }
        summary.sessions.push(name);
      }
    }
    for (const r of [...this.arena.regions("handed-over")]) {
      this.arena.restoreFree(r.pa);
      summary.regions++;
      summary.pages += r.pages;
    }
    this.#maybeReleaseIncoming();
    return summary;
  }

  #maybeReleaseIncoming(): void {
    if (this.#incoming && this.#incoming.size > 0) return;
    if (this.arena.info().handedOverBlocks !== 0 || this.arena.incomingRoot === 0n) return;
    this.arena.releaseIncoming();
  }

  /** Registers a handler (`EINVAL` bad compatible or ops, `EEXIST` duplicate). */
  registerHandler<T>(handler: FileHandler<T>): void {
    this.handlers.register(handler);
  }

  /**
   * Hands over: freezes every file (sessions in creation order, files in
   * preservation order), fills the blocks, publishes the device trees and
   * the preserved-memory map, then closes the arena so that the successor
   * can open it. If anything fails, what was frozen is unfrozen, the blocks
   * are cleared, and the error is thrown: nothing is half handed over.
   */
  handover(): HandoverSummary {
    this.#live();
    const number = (this.hasIncoming && !this.#incomingError ? this.incomingNumber : 0n) + 1n;
    const sessions = [...this.#outgoing.values()];
    let frozen = 0;
    const fdtPages: bigint[] = [];
    try {
      for (; frozen < sessions.length; frozen++) sessions[frozen].files.freeze();
      for (const s of sessions) s.files.fill();
      this.#sessionChain.fill(sessions.length, (dv, bytes, off, i) => {
        const s = sessions[i];
        writeSessionEntry(dv, bytes, off, s.nameBytes, s.files.head, s.files.count);
      });
      const root = placeRoots(this.arena, number, this.#sessionChain.head, fdtPages);
      this.arena.handover(root);
      this.#state = "handed-over";
      this.arena.close();
      return {
        liveupdateNumber: number,
        sessions: sessions.length,
        files: sessions.reduce((a, s) => a + s.files.count, 0),
        root,
      };
    } catch (e) {
      for (const pa of fdtPages) this.arena.unpreserveFree(pa);
      this.#sessionChain.clear();
      for (let i = Math.min(frozen, sessions.length) - 1; i >= 0; i--) sessions[i].files.unfreeze();
      throw e;
    }
  }

  /** Closes the arena without handing over. Idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.arena.close();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    if (this.#state !== "handed-over") this.close();
  }
}
