/**
 * File handlers and their registry. A handler knows how to preserve one
 * kind of object into the arena and how to give it back in the successor;
 * it is found by its compatible string (e.g. `"memfd-v1"`). Its ops are
 * the kernel's `liveupdate_file_ops`: `freeze`, `unfreeze`, `canFinish`
 * and `getId` are optional.
 *
 * @module
 */

import { LuoError, typeOf } from "../errors.ts";
import { compatibleField } from "../format/file_ser.ts";
import type { Arena, Region } from "../kho/arena.ts";

/**
 * What a handler (and an FLB) gets to work with. The lookups may be called
 * from inside ops (they are the kernel's helpers for handlers whose files
 * depend on each other); during inspection they throw `EINVAL`.
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
 */
export type RetrieveStatus = "none" | "retrieved" | "failed";

/** A file being preserved, as its handler sees it. */
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

/** A handed-over file, as its handler sees it. */
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

/** What a handler says about a handed-over file, read-only (for inspection). */
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

/** A handler of any object type (for lists of handlers). */
// deno-lint-ignore no-explicit-any
export type AnyFileHandler = FileHandler<any>;

const REQUIRED = ["canPreserve", "preserve", "unpreserve", "retrieve", "finish"] as const;
const OPTIONAL = ["freeze", "unfreeze", "canFinish", "getId", "describe"] as const;

/** A registered handler with its compatible field encoded once. */
export interface Registered {
  /** The handler. */
  readonly handler: FileHandler;
  /** Its 48-byte `luo_file_ser.compatible` field. */
  readonly field: Uint8Array;
  /** How messages name it: `handler "<compatible>"`. */
  readonly label: string;
}

/** Handlers by compatible string, in registration order. */
export class HandlerRegistry {
  #byCompat = new Map<string, Registered>();

  /**
   * Registers a handler: `EINVAL` for a bad compatible, a missing required
   * op or an optional one that is not a function; `EEXIST` for a duplicate.
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

  /** Removes a handler; `ENOENT` when absent. */
  unregister(compatible: string): void {
    if (!this.#byCompat.delete(compatible)) {
      throw new LuoError("ENOENT", `no handler "${compatible}" is registered`);
    }
  }

  /** The handler of a compatible string. */
  get(compatible: string): FileHandler | undefined {
    return this.#byCompat.get(compatible)?.handler;
  }

  /** The registration of a compatible string (handler, field, label). */
  registered(compatible: string): Registered | undefined {
    return this.#byCompat.get(compatible);
  }

  /** The first handler (in registration order) that accepts `obj`, with its field. */
  find(ctx: HandlerContext, obj: unknown): Registered | undefined {
    for (const r of this.#byCompat.values()) if (r.handler.canPreserve(ctx, obj)) return r;
    return undefined;
  }

  /** Registered compatible strings. */
  compatibles(): string[] {
    return [...this.#byCompat.keys()];
  }
}
