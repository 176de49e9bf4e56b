/**
 * What the file sets of one live update share: the arena, the handler
 * registry, the block cap, the re-entrancy guard, and who holds which
 * object (an object is preserved once across all sessions, and a retrieved
 * one is busy until its session finishes).
 *
 * @module
 */

import { codeOfNative, type ErrorCode, ERRORS, LiveUpdateError, LuoError } from "../errors.ts";
import type { FlbRegistry } from "./flb.ts";
import type { CallbackGuard } from "./guard.ts";
import type { FileHandler, HandlerContext, HandlerRegistry } from "./handler.ts";

/**
 * Who holds a preserved (or retrieved, not yet finished) object: the file
 * itself (an incoming one has a retrieve `status`).
 */
export interface Holder {
  /** Its session. */
  readonly session: string;
  /** Its token. */
  readonly token: bigint;
  /** Present on incoming files only. */
  readonly status?: string;
}

/** Everything a file set shares with its live update. */
export interface FileSetContext extends HandlerContext {
  /** The handler registry. */
  readonly handlers: HandlerRegistry;
  /** Objects (by handler id) preserved in any session or retrieved and not finished. */
  readonly holders: Map<unknown, Holder>;
  /** Refuses calls into the live update from inside handler ops. */
  readonly guard: CallbackGuard;
  /** File-lifecycle-bound objects. */
  readonly flbs: FlbRegistry;
}

/**
 * A handler's error as a typed error naming the op (`what`: session,
 * token, handler, op). A library error keeps its class and code and gets
 * `what` put in front of its message (once); any other error becomes a
 * {@link LuoError} that keeps the handler's errno (as the kernel returns
 * it): its `code` when that is one of {@link ERRORS}, else its numeric
 * `errno` (28 or Node's -28) when that is one of theirs, else `EIO`.
 */
export function wrapHandlerError(e: unknown, what: string): LiveUpdateError {
  if (e instanceof LiveUpdateError) {
    const rest = e.message.slice(e.code.length + 2);
    if (!rest.startsWith(what)) e.message = `${e.code}: ${what}: ${rest}`;
    return e;
  }
  return new LuoError(
    errnoOf(e),
    `${what}: ${e instanceof Error ? e.message : String(e)}`,
    { cause: e },
  );
}

/** The code a handler's error carries: its `code` name, else its numeric `errno` (either sign), else `EIO`. */
function errnoOf(e: unknown): ErrorCode {
  const { code, errno } = (typeof e === "object" && e !== null ? e : {}) as {
    code?: unknown;
    errno?: unknown;
  };
  if (typeof code === "string" && Object.hasOwn(ERRORS, code)) return code as ErrorCode;
  if (typeof errno === "number" && Number.isSafeInteger(errno) && errno !== 0) {
    return codeOfNative(-Math.abs(errno));
  }
  return "EIO";
}

/** The identity under which `obj` is preserved once (the handler's `getId`, else the object). */
export function identityOf(
  ctx: FileSetContext,
  h: FileHandler,
  obj: unknown,
  what: () => string,
): unknown {
  if (!h.getId) return obj;
  return ctx.guard.run(`handler "${h.compatible}"`, "getId", () => {
    try {
      return h.getId!(ctx, obj);
    } catch (e) {
      throw wrapHandlerError(e, `${what()}: handler "${h.compatible}" getId failed`);
    }
  });
}

/** Why an object cannot be preserved again, for `EBUSY` messages. */
export function describeHolder(h: Holder): string {
  return h.status !== undefined
    ? `object was retrieved from incoming session "${h.session}" (token ${h.token}), which is not finished yet`
    : `object already preserved in session "${h.session}" (token ${h.token})`;
}

/**
 * The error of a failed step, with the failures of its rollback (unfreeze)
 * added to its message: the first error stays the one reported, none is lost.
 */
export function withRollbackErrors(
  error: LiveUpdateError,
  rollback: LiveUpdateError[],
): LiveUpdateError {
  if (rollback.length === 0) return error;
  const also = rollback.map((e) => e.message).join("; ");
  return new LuoError(
    error.code,
    `${error.message.replace(/^\w+: /, "")}; rolling back also failed: ${also}`,
    {
      cause: error,
    },
  );
}
