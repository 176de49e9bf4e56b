/**
 * The Live Update Orchestrator: outgoing sessions to hand over, incoming
 * sessions handed over by the predecessor, the handler registry, and the
 * handover itself.
 *
 * @module
 */

import { LiveUpdateError, LuoError, typeOf, UnflushedHandoverError } from "../errors.ts";
import { BlockChain, DEFAULT_MAX_BLOCKS } from "../format/block.ts";
import { FLB_CHAIN } from "../format/flb_ser.ts";
import { SESSION_CHAIN } from "../format/session_ser.ts";
import { BUILTIN_FLBS, builtinHandlers } from "../handlers/builtin.ts";
import { Arena, checkInteger, type CreateOptions, type OpenOptions } from "../kho/arena.ts";
import { checkPath, optionsOf } from "../kho/options.ts";
import { removeIfPresent } from "../kho/temporary.ts";
import { type FileSetContext, identityOf } from "../luo/context.ts";
import { type FlbOps, FlbRegistry } from "../luo/flb.ts";
import { CallbackGuard } from "../luo/guard.ts";
import { handOver, type HandoverSummary } from "../luo/handover.ts";
import { type FileHandler, HandlerRegistry } from "../luo/handler.ts";
import { IncomingImage } from "../luo/incoming_image.ts";
import { startAt } from "./start.ts";
import type { LiveUpdateOptions, ReleaseSummary, StartOptions } from "./options.ts";
import { type IncomingSession, OutgoingSession } from "../luo/session.ts";
import { type Token, U64_MAX } from "../luo/token.ts";

type State = "live" | "handed-over" | "closed";

/**
 * A live update over one arena: create sessions, preserve files, hand over;
 * in the successor, retrieve and finish what was handed over.
 *
 * It is live until {@link LiveUpdate.handover} (which publishes the image
 * and closes the arena for the successor) or {@link LiveUpdate.close};
 * after either, the calls that change its state throw `EINVAL`. Called
 * from inside a handler's or an FLB's op, they throw `EBUSY` (ops look
 * things up with {@link LiveUpdate.tokenOf}, {@link LiveUpdate.flbIncoming}
 * and {@link LiveUpdate.flbOutgoing}). The examples use temporary arenas:
 * `create({ size })` makes a file that {@link LiveUpdate.close} removes;
 * after a handover the file stays for the successor, so they remove it.
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
  /**
   * The arena ("physical memory"): memory files are made in it, and its
   * `path` is the file the successor opens.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const page = MemFile.from(luo.arena, new TextEncoder().encode("cached page"));
   * luo.createSession("cache").preserve(page, 1n);
   * console.log(page.size, luo.arena.size); // 11 1048576
   * ```
   */
  readonly arena: Arena;
  /**
   * The handler registry: the built-in handlers, then those registered
   * since (options `handlers`, {@link registerHandler}).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * console.log(luo.handlers.compatibles()); // ["memfd-v2", "memfd-v1", "value-v1", "kvmap-v1"]
   * ```
   */
  readonly handlers: HandlerRegistry = new HandlerRegistry();
  /**
   * Whether this live update took over an image its predecessor handed over.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * const dir = Deno.makeTempDirSync();
   * // One generation of a service that counts its runs.
   * function run(): number {
   *   const luo = LiveUpdate.start(`${dir}/service.arena`, { size: 1 << 20 });
   *   const s = luo.resumed ? luo.retrieveSession("svc") : undefined;
   *   const runs = (s?.retrieve(1n, Value<number>).value ?? 0) + 1;
   *   s?.finish();
   *   luo.createSession("svc").preserve(new Value(runs), 1n);
   *   luo.handover();
   *   return runs;
   * }
   * console.log(run(), run(), run()); // 1 2 3
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  readonly resumed: boolean;
  /**
   * Where {@link LiveUpdate.start} moved a damaged arena (with
   * `damaged: "move-aside"`), to be looked into later; else `undefined`.
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * LiveUpdate.start(path, { size: 1 << 20 }).handover();
   * const bytes = Deno.readFileSync(path);
   * bytes[0] ^= 0xff; // damage its magic number
   * Deno.writeFileSync(path, bytes);
   * const luo = LiveUpdate.start(path, { size: 1 << 20, damaged: "move-aside" });
   * console.log(luo.resumed, luo.movedAside?.startsWith(`${path}.damaged-`)); // false true
   * luo.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
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

  /**
   * Wraps `arena` (closing it, and removing a file it created, when that
   * fails). The scalar options were checked before the arena was made.
   */
  static #wrap(arena: Arena, options: LiveUpdateOptions, created: boolean): LiveUpdate {
    try {
      return new LiveUpdate(arena, options);
    } catch (e) {
      arena.close();
      if (created) removeIfPresent(arena.path);
      throw e;
    }
  }

  /**
   * Starts a first generation in a new arena file: at `path`, which must not
   * exist (`EEXIST`), else a temporary file that {@link close} removes. A
   * service normally calls {@link start}, which creates or opens.
   *
   * @example
   * ```ts
   * import { LiveUpdate, LiveUpdateError } from "@luo/live-update";
   * const dir = Deno.makeTempDirSync();
   * const luo = LiveUpdate.create({ path: `${dir}/service.arena`, size: 1 << 20 });
   * try {
   *   LiveUpdate.create({ path: luo.arena.path, size: 1 << 20 });
   * } catch (e) {
   *   console.log(e instanceof LiveUpdateError && e.code); // "EEXIST"
   * }
   * luo.close(); // a file with a path stays
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
  static create(options?: CreateOptions & LiveUpdateOptions): LiveUpdate {
    options = checkOptions(optionsOf("create", options));
    return LiveUpdate.#wrap(Arena.create(options), options, options.path !== undefined);
  }

  /**
   * Opens an arena as the successor. Incoming state is read on first access.
   * Read-only opens are refused (`EINVAL`): use `inspectArena` to look inside.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("svc").preserve(new Value({ port: 8080 }), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path); // normally in the next process
   * const s = luo.retrieveSession("svc");
   * console.log(s.retrieve(1n, Value<{ port: number }>).value.port); // 8080
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  static open(path: string, options?: OpenOptions & LiveUpdateOptions): LiveUpdate {
    checkPath("open: the arena path", path);
    options = checkOptions(optionsOf(`open ${path}`, options));
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
   *
   * @example
   * ```ts
   * import { LiveUpdate, LiveUpdateError } from "@luo/live-update";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * const luo = LiveUpdate.start(path, { size: 1 << 20 }); // no file yet: creates it
   * try {
   *   LiveUpdate.start(path); // a second instance while the first runs
   * } catch (e) {
   *   console.log(e instanceof LiveUpdateError && e.code); // "EBUSY"
   * }
   * luo.handover();
   * const next = LiveUpdate.start(path); // the file exists: opens it (its size is the file's)
   * console.log(next.resumed); // true
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
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

  /**
   * Whether the predecessor handed anything over (an image without sessions
   * too).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * console.log(old.hasIncoming); // false: a first generation
   * old.handover(); // with no session at all
   * const luo = LiveUpdate.open(old.arena.path);
   * console.log(luo.hasIncoming, luo.incomingSessions()); // true []
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  get hasIncoming(): boolean {
    return this.#incoming.present;
  }

  /**
   * `liveupdate-number` of the incoming image (0n when nothing was handed
   * over); each handover carries the next number.
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * console.log(old.incomingNumber, old.handover().liveupdateNumber); // 0n 1n
   * const luo = LiveUpdate.open(old.arena.path);
   * console.log(luo.incomingNumber, luo.handover().liveupdateNumber); // 1n 2n
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  get incomingNumber(): bigint {
    return this.#incoming.number;
  }

  /**
   * Creates an outgoing session: `EINVAL` for a bad name, `EEXIST` for a
   * live duplicate.
   *
   * @example
   * ```ts
   * import { LiveUpdate, LuoError, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.preserve(new Value({ hits: 1 }), 1n);
   * try {
   *   luo.createSession("svc");
   * } catch (e) {
   *   console.log(e instanceof LuoError && e.code); // "EEXIST"
   * }
   * s.close(); // unpreserves its files: the name is free again
   * console.log(luo.createSession("svc").fileCount); // 0
   * ```
   */
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

  /**
   * Names of the outgoing sessions, in creation order (the order of the
   * handover).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * for (const name of ["config", "cache", "scratch"]) luo.createSession(name);
   * luo.session("scratch").close();
   * console.log(luo.sessions()); // ["config", "cache"]
   * ```
   */
  sessions(): string[] {
    return [...this.#outgoing.keys()];
  }

  /**
   * The outgoing session of `name` (`ENOENT` when absent).
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * luo.createSession("cache");
   * // Elsewhere in the service, by its name:
   * luo.session("cache").preserve(new Value(["entry"]), 2n);
   * console.log(luo.session("cache").tokens()); // [2n]
   * ```
   */
  session(name: string): OutgoingSession {
    const s = this.#outgoing.get(name);
    if (!s) throw new LuoError("ENOENT", `no outgoing session "${name}"`);
    return s;
  }

  /**
   * The outgoing session and token `obj` is preserved under (the kernel's
   * `liveupdate_get_token_outgoing`), or `undefined`. Allowed from inside
   * handler ops.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const config = new Value({ port: 8080 });
   * luo.createSession("svc").preserve(config, 7n);
   * console.log(luo.tokenOf(config)); // { session: "svc", token: 7n }
   * console.log(luo.tokenOf(new Value(0))); // undefined: not preserved
   * ```
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

  /**
   * Names of the incoming sessions not finished yet (throws `EIO` if the
   * image is damaged).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("config");
   * old.createSession("cache");
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * luo.retrieveSession("config").finish();
   * console.log(luo.incomingSessions()); // ["cache"]: "config" is finished
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  incomingSessions(): string[] {
    return this.#incoming.names();
  }

  /**
   * Incoming sessions nobody retrieved yet (see {@link releaseUnclaimed}).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * for (const name of ["config", "cache"]) old.createSession(name);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * const config = luo.retrieveSession("config"); // retrieved, not finished yet
   * console.log(luo.unclaimedSessions(), luo.incomingSessions()); // ["cache"] ["config", "cache"]
   * config.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  unclaimedSessions(): string[] {
    return this.#incoming.unclaimed();
  }

  /**
   * Retrieves an incoming session: `ENOENT` when absent, `EINVAL` when
   * retrieved already.
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array([1, 2])), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("cache");
   * const file = s.retrieve(1n, MemFile); // the same pages, not a copy
   * s.finish(); // the session is done with; the file is the service's now
   * console.log(file.read(), luo.incomingSessions()); // Uint8Array(2) [ 1, 2 ] []
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
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
   *
   * @example
   * ```ts
   * import { LiveUpdate, MemFile, Value } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("cache").preserve(MemFile.from(old.arena, new Uint8Array(8192)), 1n);
   * old.createSession("legacy").preserve(new Value("state of an older version"), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * const cache = luo.retrieveSession("cache"); // what this version uses
   * const file = cache.retrieve(1n, MemFile);
   * cache.finish();
   * const released = luo.releaseUnclaimed(); // the rest: nobody will ask for it
   * console.log(file.size, released.sessions, released.errors); // 8192 ["legacy"] []
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  releaseUnclaimed(): ReleaseSummary {
    this.#live("releaseUnclaimed");
    const summary: ReleaseSummary = { sessions: [], regions: 0, pages: 0, errors: [] };
    const before = this.arena.info();
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
    for (const r of [...this.arena.regions("handed-over")]) this.arena.restoreFree(r.pa);
    const after = this.arena.info();
    summary.regions = before.handedOverBlocks - after.handedOverBlocks;
    summary.pages = before.handedOverPages - after.handedOverPages;
    return summary;
  }

  /**
   * Gives up the predecessor's image for good: unclaimed sessions and pages
   * are released and the image is unpublished, so that its pages become
   * reusable now instead of at this process's handover. After this a crash
   * of this process finds nothing handed over. `EBUSY` while an incoming
   * session is retrieved and not finished.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.createSession("svc").preserve(new Value("state this version cannot use"), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * console.log(luo.discardIncoming().sessions); // ["svc"]
   * luo.close(); // as a crash would
   * const next = LiveUpdate.open(old.arena.path);
   * console.log(next.hasIncoming); // false: the image is gone for good
   * next.close();
   * Deno.removeSync(next.arena.path);
   * ```
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
   *
   * @example
   * ```ts
   * import { type FlbOps, LiveUpdate, Value } from "@luo/live-update";
   * // One u64 shared by every value file of a generation, in the FLB's data (no page).
   * const epoch: FlbOps<bigint> = {
   *   compatible: "epoch-v1",
   *   preserve: () => ({ obj: 7n, data: 7n }),
   *   unpreserve() {},
   *   retrieve: (_ctx, data) => data,
   *   finish() {},
   * };
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.registerFlb("value-v1", epoch);
   * old.createSession("svc").preserve(new Value("a"), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * luo.registerFlb("value-v1", epoch); // before anything incoming is read
   * console.log(luo.flbIncoming("epoch-v1")); // 7n
   * luo.retrieveSession("svc").finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
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
   *
   * @example
   * ```ts
   * import { type FlbOps, LiveUpdate, Value } from "@luo/live-update";
   * // Where the values of a generation came from: a build number, in the FLB's data.
   * const build: FlbOps<{ number: bigint }> = {
   *   compatible: "build-v1",
   *   preserve: () => ({ obj: { number: 1234n }, data: 1234n }),
   *   unpreserve() {},
   *   retrieve: (_ctx, number) => ({ number }),
   *   finish() {},
   * };
   * const flbs = [{ handler: "value-v1", flb: build }];
   * const old = LiveUpdate.create({ size: 1 << 20, flbs });
   * old.createSession("svc").preserve(new Value({ hits: 3 }), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path, { flbs });
   * const from = luo.flbIncoming("build-v1"); // before any of its files
   * console.log(from, from === luo.flbIncoming("build-v1")); // { number: 1234n } true
   * luo.retrieveSession("svc").finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  flbIncoming(compatible: string): unknown {
    if (!this.#incoming.load()) {
      throw new LuoError("ENOENT", `flb "${compatible}": nothing was handed over`);
    }
    return this.#flbs.incoming(compatible);
  }

  /**
   * The outgoing object of an FLB; `ENOENT` while no preserved file uses it.
   *
   * @example
   * ```ts
   * import { type FlbOps, LiveUpdate, LuoError, Value } from "@luo/live-update";
   * // Made when the first value file is preserved, dropped when the last one is unpreserved.
   * const since: FlbOps<{ at: Date }> = {
   *   compatible: "values-since-v1",
   *   preserve: () => ({ obj: { at: new Date() }, data: 0n }),
   *   unpreserve() {},
   *   retrieve: () => ({ at: new Date(0) }),
   *   finish() {},
   * };
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * luo.registerFlb("value-v1", since);
   * const s = luo.createSession("svc");
   * s.preserve(new Value(1), 1n);
   * console.log(luo.flbOutgoing("values-since-v1")); // { at: <when 1n was preserved> }
   * s.unpreserve(1n);
   * try {
   *   luo.flbOutgoing("values-since-v1");
   * } catch (e) {
   *   console.log(e instanceof LuoError && e.code); // "ENOENT": no file uses it now
   * }
   * ```
   */
  flbOutgoing(compatible: string): unknown {
    return this.#flbs.outgoing(compatible);
  }

  #fileIncoming(session: string, token: Token): unknown {
    const s = this.#incoming.retrieved(session);
    if (!s) throw new LuoError("ENOENT", `incoming session "${session}" is not retrieved`);
    return s.retrieveForHandler(token);
  }

  /**
   * Registers a handler (`EINVAL` bad compatible or ops, `EEXIST` duplicate);
   * register it in the successor too, before the incoming state is first
   * read (or pass it in the options `handlers`).
   *
   * @example
   * ```ts
   * import { type FileHandler, LiveUpdate } from "@luo/live-update";
   * class Port {
   *   constructor(readonly n: number) {}
   * }
   * // A port number fits in the file's 64-bit data: no page needed.
   * const portHandler: FileHandler<Port> = {
   *   compatible: "port-v1",
   *   canPreserve: (_ctx, obj) => obj instanceof Port,
   *   preserve: (_ctx, file) => BigInt(file.obj.n),
   *   unpreserve() {},
   *   retrieve: (_ctx, file) => new Port(Number(file.data)),
   *   finish() {},
   * };
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * old.registerHandler(portHandler);
   * old.createSession("svc").preserve(new Port(8080), 1n);
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * luo.registerHandler(portHandler);
   * const s = luo.retrieveSession("svc");
   * console.log(s.retrieve(1n, Port).n); // 8080
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
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
   *
   * @example
   * ```ts
   * import { LiveUpdate, LuoError, Value } from "@luo/live-update";
   * const luo = LiveUpdate.create({ size: 1 << 20 });
   * const s = luo.createSession("svc");
   * s.preserve(new Value({ hits: 1 }), 1n);
   * s.preserve(new Value({ onHit: () => {} }), 2n); // a function cannot be serialized
   * try {
   *   luo.handover();
   * } catch (e) {
   *   console.log(e instanceof LuoError && e.code); // "EINVAL": nothing handed over, still live
   * }
   * s.unpreserve(2n);
   * const { liveupdateNumber, files } = luo.handover();
   * console.log(liveupdateNumber, files); // 1n 1
   * Deno.removeSync(luo.arena.path); // its successor would open it; here none does
   * ```
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

  /**
   * Closes the arena without handing over (a temporary arena's file is
   * removed). Idempotent. The predecessor's image stays for the next start,
   * as after a crash, until a live update hands over or discards it.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * const dir = Deno.makeTempDirSync();
   * const path = `${dir}/service.arena`;
   * const old = LiveUpdate.start(path, { size: 1 << 20 });
   * old.createSession("svc").preserve(new Value("state"), 1n);
   * old.handover();
   * const luo = LiveUpdate.start(path);
   * luo.close(); // stopped before taking anything over
   * const next = LiveUpdate.start(path);
   * console.log(next.resumed, next.incomingSessions()); // true ["svc"]
   * next.close();
   * Deno.removeSync(dir, { recursive: true });
   * ```
   */
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

/**
 * `options` after the checks that need no arena (so that a wrong option
 * never creates a file): `maxBlocks`, the memfd options, and that
 * `handlers` and `flbs` are arrays. `EINVAL` naming the option.
 */
function checkOptions<T extends LiveUpdateOptions>(options: T): T {
  checkInteger("maxBlocks", options.maxBlocks ?? DEFAULT_MAX_BLOCKS, 1);
  builtinHandlers(options);
  for (const name of ["handlers", "flbs"] as const) {
    const v = options[name];
    if (v !== undefined && !Array.isArray(v)) {
      throw new LuoError("EINVAL", `option ${name} must be an array, got ${typeOf(v)}`);
    }
  }
  return options;
}
