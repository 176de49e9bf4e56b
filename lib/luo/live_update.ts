/**
 * The Live Update Orchestrator: outgoing sessions to hand over, incoming
 * sessions handed over by the predecessor, the handler registry, and the
 * handover itself.
 *
 * @module
 */

import { LiveUpdateError, LuoError, UnflushedHandoverError } from "../errors.ts";
import { BlockChain, DEFAULT_MAX_BLOCKS } from "../format/block.ts";
import { FLB_CHAIN } from "../format/flb_ser.ts";
import { SESSION_CHAIN } from "../format/session_ser.ts";
import { BUILTIN_FLBS, builtinHandlers } from "../handlers/builtin.ts";
import { Arena, checkInteger, type CreateOptions, type OpenOptions } from "../kho/arena.ts";
import { checkPath, optionsOf } from "../kho/options.ts";
import { type FileSetContext, identityOf } from "./context.ts";
import { type FlbOps, FlbRegistry } from "./flb.ts";
import { CallbackGuard } from "./guard.ts";
import { handOver } from "./handover.ts";
import { type FileHandler, HandlerRegistry } from "./handler.ts";
import { IncomingImage } from "./incoming_image.ts";
import { startAt } from "./start.ts";
import type {
  HandoverSummary,
  LiveUpdateOptions,
  ReleaseSummary,
  StartOptions,
} from "./options.ts";
import { type IncomingSession, OutgoingSession } from "./session.ts";
import { type Token, U64_MAX } from "./token.ts";

type State = "live" | "handed-over" | "closed";

/**
 * A live update over one arena: create sessions, preserve files, hand over;
 * in the successor, retrieve and finish what was handed over.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * const luo = LiveUpdate.start(path, { size: 1 << 20 });
 * const s = luo.createSession("state");
 * s.preserve(MemFile.from(luo.arena, new TextEncoder().encode("hi")), 0n);
 * luo.handover(); // closes the arena: a successor may open it now
 *
 * using next = LiveUpdate.start(path, { size: 1 << 20 });
 * const file = next.retrieveSession("state").retrieve(0n, MemFile);
 * console.log(new TextDecoder().decode(file.read())); // "hi"
 * next.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class LiveUpdate {
  /** The arena ("physical memory"). */
  readonly arena: Arena;
  /** The handler registry (memfd-v2, memfd-v1, value-v1 and kvmap-v1 are built in). */
  readonly handlers: HandlerRegistry = new HandlerRegistry();
  /** Whether this live update took over an image its predecessor handed over. */
  readonly resumed: boolean;
  /** Where {@link LiveUpdate.start} moved a damaged arena (with `damaged: "move-aside"`). */
  movedAside?: string;
  #ctx: FileSetContext;
  #flbs: FlbRegistry;
  #outgoing = new Map<string, OutgoingSession>();
  #sessionChain: BlockChain;
  #flbChain: BlockChain;
  #state: State = "live";
  #incoming: IncomingImage;

  private constructor(arena: Arena, options: LiveUpdateOptions) {
    this.arena = arena;
    const maxBlocks = checkInteger("maxBlocks", options.maxBlocks ?? DEFAULT_MAX_BLOCKS, 1);
    const guard = new CallbackGuard();
    const lookups = {
      tokenOutgoing: (obj: unknown) => this.tokenOf(obj),
      fileIncoming: (session: string, token: Token) => this.#fileIncoming(session, token),
      flbOutgoing: (compatible: string) => this.#flbs.outgoing(compatible),
      flbIncoming: (compatible: string) => this.flbIncoming(compatible),
    };
    this.#flbs = new FlbRegistry({ arena, maxBlocks, ...lookups }, guard);
    this.#ctx = {
      arena,
      handlers: this.handlers,
      holders: new Map(),
      maxBlocks,
      guard,
      flbs: this.#flbs,
      ...lookups,
    };
    this.#sessionChain = BlockChain.outgoing(arena, SESSION_CHAIN, maxBlocks);
    this.#flbChain = BlockChain.outgoing(arena, FLB_CHAIN, maxBlocks);
    for (const h of builtinHandlers(options)) this.handlers.register(h);
    for (const { handler, flb } of BUILTIN_FLBS) this.#flbs.register(handler, flb);
    for (const h of options.handlers ?? []) this.handlers.register(h);
    for (const { handler, flb } of options.flbs ?? []) this.#attachFlb(handler, flb);
    this.#incoming = new IncomingImage(this.#ctx, arena.info().incomingRoot);
    this.resumed = this.#incoming.present;
  }

  /** Wraps `arena` (closing it, and removing a file it created, when that fails). */
  static #wrap(arena: Arena, options: LiveUpdateOptions, created: boolean): LiveUpdate {
    try {
      return new LiveUpdate(arena, options);
    } catch (e) {
      arena.close();
      if (created) removeIfPresent(arena.path);
      throw e;
    }
  }

  /** Starts a first generation in a new arena file (which must not exist). */
  static create(options?: CreateOptions & LiveUpdateOptions): LiveUpdate {
    options = optionsOf("create", options);
    return LiveUpdate.#wrap(Arena.create(options), options, options.path !== undefined);
  }

  /**
   * Opens an arena as the successor. Incoming state is read on first access.
   * Read-only opens are refused (`EINVAL`): use `inspectArena` to look inside.
   */
  static open(path: string, options?: OpenOptions & LiveUpdateOptions): LiveUpdate {
    checkPath("open: the arena path", path);
    options = optionsOf(`open ${path}`, options);
    if (options.readOnly) {
      throw new LuoError(
        "EINVAL",
        `a live update needs arena ${path} writable; to look inside read-only, use inspectArena`,
      );
    }
    return LiveUpdate.#wrap(Arena.open(path, options), options, false);
  }

  /**
   * The start of a service: opens the arena at `path` when the file exists
   * (a successor: {@link resumed} tells whether anything was handed over),
   * creates it when it does not (atomically: of concurrent starters exactly
   * one creates), and on any other error (held by a live process, no
   * permission, not an arena, damaged) throws without touching the file.
   * A handed-over image that cannot be read is refused, or moved aside
   * with `damaged: "move-aside"`.
   */
  static start(path: string, options?: StartOptions): LiveUpdate {
    checkPath("start: the arena path", path);
    return startAt(path, optionsOf(`start ${path}`, options), {
      create: (p, o) => LiveUpdate.create({ ...o, path: p }),
      open: (p, o) => LiveUpdate.open(p, o),
    });
  }

  /** @internal Reads the incoming image now (for `start`): throws when it cannot be used. */
  loadIncoming(): void {
    this.#incoming.load();
  }

  #live(entry: string): void {
    this.#ctx.guard.check(entry);
    if (this.#state !== "live") {
      throw new LuoError("EINVAL", `${entry}: live update of ${this.arena.path} is ${this.#state}`);
    }
  }

  /** Whether the predecessor handed anything over. */
  get hasIncoming(): boolean {
    return this.#incoming.present;
  }

  /** `liveupdate-number` of the incoming image (0n when nothing was handed over). */
  get incomingNumber(): bigint {
    return this.#incoming.number;
  }

  /** Creates an outgoing session: `EINVAL` for a bad name, `EEXIST` for a live duplicate. */
  createSession(name: string): OutgoingSession {
    this.#live("createSession");
    const s = new OutgoingSession(this.#ctx, name, (closed) => {
      this.#outgoing.delete(closed.name);
      this.#sessionChain.shrink(this.#outgoing.size);
    });
    if (this.#outgoing.has(name)) throw new LuoError("EEXIST", `session "${name}" already exists`);
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

  /**
   * The outgoing session and token `obj` is preserved under (the kernel's
   * `liveupdate_get_token_outgoing`), or `undefined`. Allowed from inside
   * handler ops.
   */
  tokenOf(obj: unknown): { session: string; token: bigint } | undefined {
    const ctx = this.#ctx;
    const reg = ctx.guard.run("a handler's", "canPreserve", () => ctx.handlers.find(ctx, obj));
    if (!reg) return undefined;
    const holder = ctx.holders.get(identityOf(ctx, reg.handler, obj, () => "tokenOf"));
    return holder && holder.status === undefined
      ? { session: holder.session, token: holder.token }
      : undefined;
  }

  /** Names of the incoming sessions not finished yet (throws `EIO` if the image is damaged). */
  incomingSessions(): string[] {
    return this.#incoming.names();
  }

  /** Incoming sessions nobody retrieved yet. */
  unclaimedSessions(): string[] {
    return this.#incoming.unclaimed();
  }

  /** Retrieves an incoming session: `ENOENT` when absent, `EINVAL` when retrieved already. */
  retrieveSession(name: string): IncomingSession {
    this.#live("retrieveSession");
    return this.#incoming.retrieve(name);
  }

  /**
   * Releases everything handed over that nobody claimed: incoming sessions
   * never retrieved are discarded (their pages freed), then any handed-over
   * page still unclaimed (also after a damaged image) is freed. Errors of
   * individual discards (damaged file data) do not stop the release; they
   * are returned. Freed pages of the predecessor's image stay parked until
   * this process hands over (or {@link discardIncoming}), so that a crash
   * before then still finds the image.
   */
  releaseUnclaimed(): ReleaseSummary {
    this.#live("releaseUnclaimed");
    const summary: ReleaseSummary = { sessions: [], regions: 0, pages: 0, errors: [] };
    if (!this.#incoming.failed && this.#incoming.load()) {
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
    return summary;
  }

  /**
   * Gives up the predecessor's image for good: unclaimed sessions and pages
   * are released and the image is unpublished, so that its pages become
   * reusable now instead of at this process's handover. After this a crash
   * of this process finds nothing handed over. `EBUSY` while an incoming
   * session is retrieved and not finished.
   */
  discardIncoming(): ReleaseSummary {
    this.#live("discardIncoming");
    if (this.#incoming.busy) {
      throw new LuoError("EBUSY", `discard incoming state: a retrieved session is not finished`);
    }
    const summary = this.releaseUnclaimed();
    if (this.arena.incomingRoot !== 0n) this.arena.discardIncoming();
    return summary;
  }

  /**
   * Attaches a file-lifecycle-bound object to the handler of
   * `handlerCompatible` (see {@link FlbOps}); register it in the successor
   * too, before the incoming state is first read.
   */
  registerFlb<T>(handlerCompatible: string, flb: FlbOps<T>): void {
    this.#live("registerFlb");
    this.#attachFlb(handlerCompatible, flb as FlbOps);
  }

  /** Attaches an FLB to a registered handler (`ENOENT` when there is none, as the kernel's). */
  #attachFlb(handlerCompatible: string, flb: FlbOps): void {
    if (!this.handlers.get(handlerCompatible)) {
      throw new LuoError("ENOENT", `flb: no handler "${handlerCompatible}" is registered`);
    }
    this.#flbs.register(handlerCompatible, flb);
  }

  /**
   * The incoming object of an FLB: retrieved on first use (before any of its
   * files if you like), the same object after; `ENOENT` when it was not
   * handed over. Allowed from inside handler ops.
   */
  flbIncoming(compatible: string): unknown {
    if (!this.#incoming.load()) {
      throw new LuoError("ENOENT", `flb "${compatible}": nothing was handed over`);
    }
    return this.#flbs.incoming(compatible);
  }

  /** The outgoing object of an FLB; `ENOENT` while no preserved file uses it. */
  flbOutgoing(compatible: string): unknown {
    return this.#flbs.outgoing(compatible);
  }

  #fileIncoming(session: string, token: Token): unknown {
    const s = this.#incoming.retrieved(session);
    if (!s) throw new LuoError("ENOENT", `incoming session "${session}" is not retrieved`);
    return s.retrieveForHandler(token);
  }

  /** Registers a handler (`EINVAL` bad compatible or ops, `EEXIST` duplicate). */
  registerHandler<T>(handler: FileHandler<T>): void {
    this.#live("registerHandler");
    this.handlers.register(handler);
  }

  /**
   * The `liveupdate-number` of the next handover: the incoming image's + 1;
   * when it could not be read (or was discarded), the arena's handover
   * count + 1, so that the number never goes backwards.
   */
  #nextNumber(): bigint {
    let last = this.arena.info().handovers;
    if (this.hasIncoming && !this.#incoming.failed) {
      try {
        last = this.incomingNumber;
      } catch (e) {
        if (!(e instanceof LiveUpdateError)) throw e;
      }
    }
    if (last >= U64_MAX) {
      throw new LuoError(
        "EOVERFLOW",
        `liveupdate-number ${last} is at its maximum: a handover would wrap it to 0 (start a new arena)`,
      );
    }
    return last + 1n;
  }

  /**
   * Hands over: freezes every file (sessions in creation order, files in
   * preservation order), fills the blocks, publishes the device trees and
   * the preserved-memory map, then closes the arena so that the successor
   * can open it. If anything fails, what was frozen is unfrozen, the blocks
   * are cleared, and the error is thrown: nothing is half handed over.
   */
  handover(): HandoverSummary {
    this.#live("handover");
    let summary: HandoverSummary;
    try {
      summary = handOver({
        arena: this.arena,
        sessions: [...this.#outgoing.values()],
        sessionChain: this.#sessionChain,
        flbs: this.#flbs,
        flbChain: this.#flbChain,
        liveupdateNumber: this.#nextNumber(),
      });
    } catch (e) {
      if (!(e instanceof UnflushedHandoverError)) throw e;
      this.#state = "handed-over"; // published all the same: a live successor finds it
      this.arena.close();
      throw e;
    }
    this.#state = "handed-over";
    this.arena.close();
    return summary;
  }

  /** Closes the arena without handing over. Idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#ctx.guard.check("close");
    this.#state = "closed";
    this.arena.close();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    if (this.#state !== "handed-over") this.close();
  }
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
