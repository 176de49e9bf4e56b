/**
 * File handlers and their registry. A handler knows how to preserve one
 * kind of object into the arena and how to give it back in the successor;
 * it is found by its compatible string (e.g. `"memfd-v1"`).
 *
 * @module
 */

import { MAX_COMPAT_BYTES, utf8 } from "./abi.ts";
import { LuoError } from "./errors.ts";
import type { Arena } from "./kho.ts";

/** What a handler gets to work with. */
export interface HandlerContext {
  /** The arena of the live update. */
  readonly arena: Arena;
}

/**
 * The ops of a file handler, as in the kernel's `liveupdate_file_ops`.
 * `data` is the handler's own u64 (usually the physical address of a
 * descriptor it allocated); it is stored in `luo_file_ser.data`.
 */
export interface FileHandler<T = unknown> {
  /** Compatible string, at most 47 bytes, unique in a registry. */
  readonly compatible: string;
  /** Whether this handler can preserve `obj`. */
  canPreserve(ctx: HandlerContext, obj: unknown): boolean;
  /** Preserves `obj` (allocating what it needs); returns its `data`. */
  preserve(ctx: HandlerContext, obj: T): bigint;
  /** Undoes {@link preserve}; the object stays usable. */
  unpreserve(ctx: HandlerContext, obj: T, data: bigint): void;
  /** Called at handover: capture the final state (may fail; then everything unfreezes). */
  freeze(ctx: HandlerContext, obj: T, data: bigint): void;
  /** Undoes {@link freeze} after a failed handover. */
  unfreeze(ctx: HandlerContext, obj: T, data: bigint): void;
  /** In the successor: rebuilds the object from `data` (zero-copy where it can). */
  retrieve(ctx: HandlerContext, data: bigint): T;
  /** Whether the file may be finished now (`obj` is undefined when never retrieved). */
  canFinish(ctx: HandlerContext, obj: T | undefined, data: bigint): boolean;
  /**
   * Ends the file's handover. When `obj` is undefined the file was never
   * retrieved: the handler frees every page behind `data`.
   */
  finish(ctx: HandlerContext, obj: T | undefined, data: bigint): void;
}

/** A handler of any object type (for lists of handlers). */
// deno-lint-ignore no-explicit-any
export type AnyFileHandler = FileHandler<any>;

const OPS = [
  "canPreserve",
  "preserve",
  "unpreserve",
  "freeze",
  "unfreeze",
  "retrieve",
  "canFinish",
  "finish",
] as const;

/** Handlers by compatible string, in registration order. */
export class HandlerRegistry {
  #byCompat = new Map<string, FileHandler>();

  /** Registers a handler: `EINVAL` for a bad compatible or a missing op, `EEXIST` for a duplicate. */
  register<T>(handler: FileHandler<T>): void {
    const h = handler as unknown as FileHandler;
    const compat = h?.compatible;
    if (
      typeof compat !== "string" || compat.length === 0 || utf8(compat).length > MAX_COMPAT_BYTES
    ) {
      throw new LuoError(
        "EINVAL",
        `handler compatible ${JSON.stringify(compat)} must be 1..${MAX_COMPAT_BYTES} bytes`,
      );
    }
    if (compat.includes("\0")) {
      throw new LuoError("EINVAL", `handler compatible ${JSON.stringify(compat)} has a NUL`);
    }
    for (const op of OPS) {
      if (typeof h[op] !== "function") {
        throw new LuoError("EINVAL", `handler "${compat}" lacks the op ${op}`);
      }
    }
    if (this.#byCompat.has(compat)) {
      throw new LuoError("EEXIST", `a handler "${compat}" is already registered`);
    }
    this.#byCompat.set(compat, h);
  }

  /** Removes a handler; `ENOENT` when absent. */
  unregister(compatible: string): void {
    if (!this.#byCompat.delete(compatible)) {
      throw new LuoError("ENOENT", `no handler "${compatible}" is registered`);
    }
  }

  /** The handler of a compatible string. */
  get(compatible: string): FileHandler | undefined {
    return this.#byCompat.get(compatible);
  }

  /** The first handler (in registration order) that accepts `obj`. */
  find(ctx: HandlerContext, obj: unknown): FileHandler | undefined {
    for (const h of this.#byCompat.values()) if (h.canPreserve(ctx, obj)) return h;
    return undefined;
  }

  /** Registered compatible strings. */
  compatibles(): string[] {
    return [...this.#byCompat.keys()];
  }
}
