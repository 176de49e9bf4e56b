/**
 * Typed errors of the library. Every failure carries a POSIX-style `code`
 * and a message naming what failed and where.
 *
 * @module
 */

/** The error codes the library reports. */
export type ErrorCode =
  | "EPERM"
  | "ENOENT"
  | "EIO"
  | "ENOEXEC"
  | "EBADF"
  | "ENOMEM"
  | "EBUSY"
  | "EEXIST"
  | "EINVAL"
  | "ENOSPC"
  | "EPROTO"
  | "EBADMSG";

/**
 * Base class of every error thrown by this library.
 *
 * @example
 * ```ts
 * import { LiveUpdateError } from "./errors.ts";
 * try {
 *   throw new LiveUpdateError("ENOENT", "session \"db\" not found");
 * } catch (e) {
 *   if (e instanceof LiveUpdateError && e.code === "ENOENT") console.log("absent");
 * }
 * ```
 */
export class LiveUpdateError extends Error {
  /** POSIX-style code, e.g. `"ENOENT"`. */
  readonly code: ErrorCode;
  /** Creates an error with a code and a message. */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An error returned by the native arena (allocation, preservation, handover). */
export class KhoError extends LiveUpdateError {}

/** An error of the LUO layer: sessions, files, handlers. */
export class LuoError extends LiveUpdateError {}

/**
 * Handed-over data failed validation. `where` is the physical address (or
 * other location) of the bad field.
 */
export class CorruptImageError extends LiveUpdateError {
  /** Where the bad data is, e.g. a physical address. */
  readonly where: bigint | string;
  /** Creates the error; `code` defaults to `EBADMSG`. */
  constructor(message: string, where: bigint | string, code: ErrorCode = "EBADMSG") {
    super(
      code,
      `${message} (at ${typeof where === "bigint" ? "0x" + where.toString(16) : where})`,
    );
    this.where = where;
  }
}

const NATIVE_CODES: Record<number, ErrorCode> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  8: "ENOEXEC",
  9: "EBADF",
  12: "ENOMEM",
  16: "EBUSY",
  17: "EEXIST",
  22: "EINVAL",
  28: "ENOSPC",
  71: "EPROTO",
  74: "EBADMSG",
};

/** Maps a negated native errno to its code name (`EIO` for unknown values). */
export function codeOfNative(rc: number): ErrorCode {
  return NATIVE_CODES[-rc] ?? "EIO";
}
