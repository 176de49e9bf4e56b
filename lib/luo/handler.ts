/**
 * File handlers and their registry. A handler knows how to preserve one
 * kind of object into the arena and how to give it back in the successor;
 * it is found by its compatible string (e.g. `"memfd-v1"`). Its ops are
 * the kernel's `liveupdate_file_ops`: `freeze`, `unfreeze`, `canFinish`
 * and `getId` are optional.
 *
 * @module
 */

import { LiveUpdateError, LuoError, typeOf } from "../errors.ts";
import { compatibleField } from "../format/file_ser.ts";
import type { Arena, Region } from "../kho/arena.ts";

/**
 * What a handler (and an FLB) gets to work with. The lookups may be called
 * from inside ops (they are the kernel's helpers for handlers whose files
 * depend on each other); during inspection they throw `EINVAL`.
 *
 * @example
 * ```ts
 * import { type FileHandler, LiveUpdate, LuoError, MemFile } from "@luo/live-update";
 * // A link to a memory file of the same session: its data is the target's token.
 * class Link {
 *   constructor(readonly target: MemFile) {}
 * }
 * const linkHandler: FileHandler<Link> = {
 *   compatible: "link-v1",
 *   canPreserve: (_ctx, obj) => obj instanceof Link,
 *   preserve(ctx, file) {
 *     const at = ctx.tokenOutgoing(file.obj.target);
 *     if (at?.session !== file.session) throw new LuoError("EINVAL", "preserve the target first");
 *     return at.token;
 *   },
 *   unpreserve() {},
 *   retrieve: (ctx, file) => new Link(ctx.fileIncoming(file.session, file.data) as MemFile),
 *   finish() {},
 * };
 * const old = LiveUpdate.create({ size: 1 << 20, handlers: [linkHandler] });
 * const s = old.createSession("svc");
 * const page = MemFile.from(old.arena, new TextEncoder().encode("index.html"));
 * s.preserve(page, 1n);
 * s.preserve(new Link(page), 2n);
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path, { handlers: [linkHandler] });
 * const t = luo.retrieveSession("svc");
 * const link = t.retrieve(2n, Link);
 * console.log(link.target === t.retrieve(1n)); // true: the same file, retrieved once
 * t.finish();
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface HandlerContext {
  /** The arena of the live update. */
  readonly arena: Arena;
  /** Safety cap on the blocks of any chain a handler builds. */
  readonly maxBlocks: number;
  /**
   * The outgoing session and token `obj` is preserved under, or `undefined`
   * (the kernel's `liveupdate_get_token_outgoing`).
   */
  tokenOutgoing(obj: unknown): { session: string; token: bigint } | undefined;
  /**
   * The object of a handed-over file of a retrieved session, retrieving it
   * on first use and never twice (the kernel's `liveupdate_get_file_incoming`).
   */
  fileIncoming(session: string, token: bigint | number): unknown;
  /** The outgoing object of an FLB (the kernel's `liveupdate_flb_get_outgoing`). */
  flbOutgoing(compatible: string): unknown;
  /** The incoming object of an FLB, retrieved once (the kernel's `liveupdate_flb_get_incoming`). */
  flbIncoming(compatible: string): unknown;
}

/**
 * Where an incoming file stands, as the kernel's `retrieve_status`:
 * never retrieved, retrieved (its object is in `obj`), or retrieve failed.
 *
 * @example
 * ```ts
 * import type { IncomingFile, RetrieveStatus } from "@luo/live-update";
 * // What a handler's finish has to free depends on the status.
 * function toFree(file: IncomingFile): string {
 *   const status: RetrieveStatus = file.status;
 *   if (status === "none") return "everything behind data";
 *   return status === "failed" ? "what the failed retrieve left" : "nothing: the user owns it";
 * }
 * const file = { session: "svc", token: 1n, data: 0n, obj: undefined, private: undefined };
 * console.log(toFree({ ...file, status: "none" })); // "everything behind data"
 * ```
 */
export type RetrieveStatus = "none" | "retrieved" | "failed";

/**
 * A file being preserved, as its handler sees it.
 *
 * @example
 * ```ts
 * import type { OutgoingFile } from "@luo/live-update";
 * // preserve keeps its own state in `private` for unpreserve and freeze.
 * function preserveBytes(file: OutgoingFile<Uint8Array>, pa: bigint): bigint {
 *   file.private = { pa, length: file.obj.length };
 *   return pa; // becomes file.data
 * }
 * const file: OutgoingFile<Uint8Array> = {
 *   session: "svc",
 *   token: 1n,
 *   obj: new Uint8Array(16),
 *   data: 0n,
 *   private: undefined,
 * };
 * console.log(preserveBytes(file, 0x100001000n), file.private); // 4294971392n { pa: ..., length: 16 }
 * ```
 */
export interface OutgoingFile<T = unknown> {
  /** Name of its session. */
  readonly session: string;
  /** Its token. */
  readonly token: bigint;
  /** The object preserved. */
  readonly obj: T;
  /** What `preserve` returned (0n while `preserve` runs). */
  readonly data: bigint;
  /** The handler's own per-file state: set it in `preserve`, read it in the other ops. */
  private: unknown;
}

/**
 * A handed-over file, as its handler sees it.
 *
 * @example
 * ```ts
 * import type { IncomingFile } from "@luo/live-update";
 * // canFinish: a file may finish once it was retrieved and its user let go of it.
 * function canFinish(file: IncomingFile<{ inUse: boolean }>): boolean {
 *   return file.status !== "retrieved" || !file.obj!.inUse;
 * }
 * const file: IncomingFile<{ inUse: boolean }> = {
 *   session: "svc",
 *   token: 1n,
 *   data: 0x100001000n,
 *   status: "retrieved",
 *   obj: { inUse: true },
 *   private: undefined,
 * };
 * console.log(canFinish(file)); // false
 * ```
 */
export interface IncomingFile<T = unknown> {
  /** Name of its session. */
  readonly session: string;
  /** Its token. */
  readonly token: bigint;
  /** Its `luo_file_ser.data`, as the predecessor's `preserve` returned it. */
  readonly data: bigint;
  /** Never retrieved, retrieved, or retrieve failed. */
  readonly status: RetrieveStatus;
  /** The object `retrieve` returned, when `status` is `"retrieved"`. */
  readonly obj: T | undefined;
  /** The handler's own per-file state (set in `retrieve`, read in `canFinish`/`finish`). */
  private: unknown;
}

/**
 * What a handler says about a handed-over file, read-only (for inspection).
 *
 * @example
 * ```ts
 * import type { FileDescription } from "@luo/live-update";
 * // What a counter handler's describe returns for `inspect` to show.
 * function describeCounter(data: bigint, value: bigint): FileDescription {
 *   return {
 *     fields: { value: value.toString() },
 *     regions: [{ pa: data, pages: 1, what: "counter page" }],
 *   };
 * }
 * console.log(describeCounter(0x100001000n, 42n).fields); // { value: "42" }
 * ```
 */
export interface FileDescription {
  /** Named facts about the file (size, position, ...). */
  fields: Record<string, string | number>;
  /** Every region the file's data and metadata occupy, with what each is. */
  regions: (Region & { what: string })[];
}

/**
 * The ops of a file handler, as in the kernel's `liveupdate_file_ops`.
 * `data` is the handler's own u64 (usually the physical address of a
 * descriptor it allocated); it is stored in `luo_file_ser.data`.
 *
 * @example
 * ```ts
 * import { type FileHandler, LiveUpdate } from "@luo/live-update";
 * // A counter that survives live updates: its value goes in one arena page.
 * class Counter {
 *   constructor(public n: bigint) {}
 * }
 * const counterHandler: FileHandler<Counter> = {
 *   compatible: "counter-v1",
 *   canPreserve: (_ctx, obj) => obj instanceof Counter,
 *   preserve: ({ arena }) => arena.allocPreserve(4096), // its data: the page's address
 *   unpreserve: ({ arena }, file) => arena.unpreserveFree(file.data),
 *   freeze: ({ arena }, file) => arena.view(file.data, 8).setBigUint64(0, file.obj.n, true),
 *   retrieve({ arena }, file) {
 *     arena.claim(file.data, 8, "counter page"); // a CorruptImageError if it was not handed over
 *     const n = arena.view(file.data, 8).getBigUint64(0, true);
 *     arena.free(file.data);
 *     return new Counter(n);
 *   },
 *   finish({ arena }, file) {
 *     if (file.status === "none") arena.restoreFree(file.data); // never retrieved
 *   },
 * };
 *
 * const old = LiveUpdate.create({ size: 1 << 20, handlers: [counterHandler] });
 * const hits = new Counter(41n);
 * old.createSession("svc").preserve(hits, 1n);
 * hits.n++; // written at handover (freeze): this change goes too
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path, { handlers: [counterHandler] });
 * const s = luo.retrieveSession("svc");
 * console.log(s.retrieve(1n, Counter).n); // 42n
 * s.finish();
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface FileHandler<T = unknown> {
  /** Compatible string, 1..47 bytes of well-formed UTF-8 without NUL, unique in a registry. */
  readonly compatible: string;
  /** Whether this handler can preserve `obj`. */
  canPreserve(ctx: HandlerContext, obj: unknown): boolean;
  /** Preserves `file.obj` (allocating what it needs); returns its `data`, a u64 bigint. */
  preserve(ctx: HandlerContext, file: OutgoingFile<T>): bigint;
  /** Undoes {@link preserve}; the object stays usable. */
  unpreserve(ctx: HandlerContext, file: OutgoingFile<T>): void;
  /** At handover: capture the final state (may fail; then everything unfreezes). */
  freeze?(ctx: HandlerContext, file: OutgoingFile<T>): void;
  /** Undoes {@link freeze} after a failed handover. */
  unfreeze?(ctx: HandlerContext, file: OutgoingFile<T>): void;
  /** In the successor: rebuilds the object from `file.data` (zero-copy where it can). */
  retrieve(ctx: HandlerContext, file: IncomingFile<T>): T;
  /** Whether the file may be finished now (default: yes); sees its retrieve status. */
  canFinish?(ctx: HandlerContext, file: IncomingFile<T>): boolean;
  /**
   * Ends the file's handover. When it was never retrieved, the handler
   * frees every page behind `data`; after a failed retrieve, whatever that
   * retrieve left.
   */
  finish(ctx: HandlerContext, file: IncomingFile<T>): void;
  /**
   * The identity of the underlying object (default: the object itself):
   * two objects with the same id are the same file, preserved once.
   */
  getId?(ctx: HandlerContext, obj: T): unknown;
  /** Reads a handed-over file's `data` without claiming anything (for inspection). */
  describe?(ctx: HandlerContext, data: bigint): FileDescription;
}

/**
 * A handler of any object type (for lists of handlers).
 *
 * @example
 * ```ts
 * import { type AnyFileHandler, HandlerRegistry, memfdHandler, valueHandler } from "@luo/live-update";
 * const handlers: AnyFileHandler[] = [memfdHandler, valueHandler]; // of MemFile, of Value
 * const registry = new HandlerRegistry();
 * for (const h of handlers) registry.register(h);
 * console.log(registry.compatibles()); // ["memfd-v2", "value-v1"]
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyFileHandler = FileHandler<any>;

const REQUIRED = ["canPreserve", "preserve", "unpreserve", "retrieve", "finish"] as const;
const OPTIONAL = ["freeze", "unfreeze", "canFinish", "getId", "describe"] as const;

/**
 * A registered handler with its compatible field encoded once.
 *
 * @example
 * ```ts
 * import { HandlerRegistry, type Registered, valueHandler } from "@luo/live-update";
 * const registry = new HandlerRegistry();
 * registry.register(valueHandler);
 * const r: Registered | undefined = registry.registered("value-v1");
 * console.log(r?.label, r?.field.length, r?.handler === valueHandler); // handler "value-v1" 48 true
 * ```
 */
export interface Registered {
  /** The handler. */
  readonly handler: FileHandler;
  /** Its 48-byte `luo_file_ser.compatible` field. */
  readonly field: Uint8Array;
  /** How messages name it: `handler "<compatible>"`. */
  readonly label: string;
}

/**
 * Handlers by compatible string, in registration order. A live update has
 * one (`LiveUpdate.handlers`, the built-in handlers registered).
 *
 * @example
 * ```ts
 * import { HandlerRegistry, memfdHandler, valueHandler } from "@luo/live-update";
 * const registry = new HandlerRegistry();
 * registry.register(memfdHandler);
 * registry.register(valueHandler);
 * console.log(registry.get("value-v1") === valueHandler, registry.compatibles()); // true ["memfd-v2", "value-v1"]
 * ```
 */
export class HandlerRegistry {
  #byCompat = new Map<string, Registered>();

  /**
   * Registers a handler: `EINVAL` for a bad compatible, a missing required
   * op or an optional one that is not a function; `EEXIST` for a duplicate.
   *
   * @example
   * ```ts
   * import { HandlerRegistry, LuoError, valueHandler } from "@luo/live-update";
   * const registry = new HandlerRegistry();
   * registry.register(valueHandler);
   * try {
   *   registry.register(valueHandler);
   * } catch (e) {
   *   if (!(e instanceof LuoError && e.code === "EEXIST")) throw e;
   * }
   * console.log(registry.compatibles()); // ["value-v1"]
   * ```
   */
  register<T>(handler: FileHandler<T>): void {
    if (typeof handler !== "object" || handler === null) {
      throw new LuoError("EINVAL", `a handler must be an object, got ${typeOf(handler)}`);
    }
    const h = handler as unknown as FileHandler;
    const field = compatibleField(h.compatible);
    for (const op of REQUIRED) {
      if (typeof h[op] !== "function") {
        throw new LuoError("EINVAL", `handler "${h.compatible}" lacks the op ${op}`);
      }
    }
    for (const op of OPTIONAL) {
      if (h[op] !== undefined && typeof h[op] !== "function") {
        throw new LuoError("EINVAL", `handler "${h.compatible}": op ${op} is not a function`);
      }
    }
    if (this.#byCompat.has(h.compatible)) {
      throw new LuoError("EEXIST", `a handler "${h.compatible}" is already registered`);
    }
    this.#byCompat.set(h.compatible, { handler: h, field, label: `handler "${h.compatible}"` });
  }

  /**
   * Removes a handler; `ENOENT` when absent.
   *
   * @example
   * ```ts
   * import { HandlerRegistry, valueHandler } from "@luo/live-update";
   * const registry = new HandlerRegistry();
   * registry.register(valueHandler);
   * registry.unregister("value-v1");
   * console.log(registry.compatibles()); // []
   * ```
   */
  unregister(compatible: string): void {
    if (!this.#byCompat.delete(compatible)) {
      throw new LuoError("ENOENT", `no handler "${compatible}" is registered`);
    }
  }

  /**
   * The handler of a compatible string.
   *
   * @example
   * ```ts
   * import { LiveUpdate, memfdHandler } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * console.log(luo.handlers.get("memfd-v2") === memfdHandler, luo.handlers.get("nope")); // true undefined
   * ```
   */
  get(compatible: string): FileHandler | undefined {
    return this.#byCompat.get(compatible)?.handler;
  }

  /**
   * The registration of a compatible string (handler, field, label).
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const r = luo.handlers.registered("kvmap-v1");
   * console.log(r?.label, new TextDecoder().decode(r?.field.subarray(0, 8))); // handler "kvmap-v1" "kvmap-v1"
   * ```
   */
  registered(compatible: string): Registered | undefined {
    return this.#byCompat.get(compatible);
  }

  /**
   * The first handler (in registration order) whose `canPreserve` returns
   * `true` for `obj`. A `canPreserve` that throws, or returns anything but a
   * boolean (a Promise, say), is a typed error naming the handler.
   *
   * @example
   * ```ts
   * import { type HandlerContext, LiveUpdate, MemFile } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const none = () => undefined;
   * const ctx: HandlerContext = {
   *   arena: luo.arena,
   *   maxBlocks: 1024,
   *   tokenOutgoing: none,
   *   fileIncoming: none,
   *   flbOutgoing: none,
   *   flbIncoming: none,
   * };
   * using file = MemFile.create(luo.arena, 10);
   * console.log(luo.handlers.find(ctx, file)?.label); // handler "memfd-v2"
   * console.log(luo.handlers.find(ctx, "a string")); // undefined: nothing preserves it
   * ```
   */
  find(ctx: HandlerContext, obj: unknown): Registered | undefined {
    for (const r of this.#byCompat.values()) {
      let yes: unknown;
      try {
        yes = r.handler.canPreserve(ctx, obj);
      } catch (e) {
        if (e instanceof LiveUpdateError) throw e;
        throw new LuoError("EIO", `${r.label} canPreserve failed: ${errorText(e)}`, { cause: e });
      }
      if (typeof yes !== "boolean") {
        throw new LuoError(
          "EINVAL",
          `${r.label} canPreserve returned ${typeOf(yes)}, want a boolean`,
        );
      }
      if (yes) return r;
    }
    return undefined;
  }

  /**
   * Registered compatible strings.
   *
   * @example
   * ```ts
   * import { LiveUpdate } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * console.log(luo.handlers.compatibles()); // ["memfd-v2", "memfd-v1", "value-v1", "kvmap-v1"]
   * ```
   */
  compatibles(): string[] {
    return [...this.#byCompat.keys()];
  }
}

/** The message of a thrown value, whatever it is. */
export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
