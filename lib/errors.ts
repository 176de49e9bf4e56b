/**
 * Typed errors of the library. Every failure carries a POSIX-style `code`
 * and a message naming what failed and where. {@link ERRORS} is the one
 * table of codes: the native library returns the same numbers, negated.
 *
 * @module
 */

/**
 * Every code the library reports: its errno (as the native layer returns it) and meaning.
 *
 * @example
 * ```ts
 * import { ERRORS } from "@luo/live-update";
 * console.log(ERRORS.EBUSY.errno, ERRORS.EBUSY.meaning); // 16 "busy"
 * ```
 */
export const ERRORS = {
  EPERM: { errno: 1, meaning: "operation not permitted" },
  ENOENT: { errno: 2, meaning: "no such file, session, file token or region" },
  EIO: { errno: 5, meaning: "I/O error" },
  ENOEXEC: { errno: 8, meaning: "not an arena file" },
  EBADF: { errno: 9, meaning: "closed or unknown arena" },
  ENOMEM: { errno: 12, meaning: "out of memory" },
  EACCES: { errno: 13, meaning: "permission denied" },
  EBUSY: { errno: 16, meaning: "busy" },
  EEXIST: { errno: 17, meaning: "already exists" },
  ENOTDIR: { errno: 20, meaning: "not a directory" },
  EISDIR: { errno: 21, meaning: "is a directory" },
  EINVAL: { errno: 22, meaning: "invalid argument" },
  ENFILE: { errno: 23, meaning: "too many open files in the system" },
  EMFILE: { errno: 24, meaning: "too many open files in this process" },
  EFBIG: { errno: 27, meaning: "file too large" },
  ENOSPC: { errno: 28, meaning: "no space left" },
  EROFS: { errno: 30, meaning: "read-only file system" },
  ENAMETOOLONG: { errno: 36, meaning: "name too long" },
  ELOOP: { errno: 40, meaning: "is a symbolic link" },
  EPROTO: { errno: 71, meaning: "unsupported version or format" },
  EBADMSG: { errno: 74, meaning: "damaged data" },
  EOVERFLOW: { errno: 75, meaning: "a counter reached its maximum" },
  ENOTSUP: { errno: 95, meaning: "not supported on this platform" },
  EDQUOT: { errno: 122, meaning: "disk quota exceeded" },
} as const;

/**
 * The error codes the library reports.
 *
 * @example
 * ```ts
 * import { type ErrorCode, ERRORS } from "@luo/live-update";
 * const retryable: ErrorCode[] = ["EBUSY", "ENOMEM"];
 * console.log(retryable.map((code) => ERRORS[code].errno)); // [16, 12]
 * ```
 */
export type ErrorCode = keyof typeof ERRORS;

const BY_ERRNO = new Map<number, ErrorCode>(
  Object.entries(ERRORS).map(([code, e]) => [e.errno, code as ErrorCode]),
);

/** Maps a negated native errno to its code (`EIO` for a number not in {@link ERRORS}). */
export function codeOfNative(rc: number): ErrorCode {
  return BY_ERRNO.get(-rc) ?? "EIO";
}

/**
 * Base class of every error thrown by this library.
 *
 * @example
 * ```ts
 * import { LiveUpdateError } from "@luo/live-update";
 * try {
 *   throw new LiveUpdateError("ENOENT", "session \"db\" not found");
 * } catch (e) {
 *   if (e instanceof LiveUpdateError && e.code === "ENOENT") console.log("absent");
 * }
 * ```
 */
export class LiveUpdateError extends Error {
  /**
   * POSIX-style code, e.g. `"ENOENT"`.
   *
   * @example
   * ```ts
   * import { LiveUpdate, LiveUpdateError } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * try {
   *   luo.retrieveSession("never-handed-over");
   * } catch (e) {
   *   if (!(e instanceof LiveUpdateError)) throw e;
   *   console.log(e.code); // "ENOENT"
   * }
   * ```
   */
  readonly code: ErrorCode;
  /**
   * Creates an error with a code and a message (the message gets the code in front).
   *
   * @example
   * ```ts
   * import { LiveUpdateError } from "@luo/live-update";
   * const e = new LiveUpdateError("EINVAL", "my-handler: size must be even", { cause: 3 });
   * console.log(e.name, e.message); // "LiveUpdateError" "EINVAL: my-handler: size must be even"
   * ```
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * An error returned by the native arena (allocation, preservation, handover).
 *
 * @example
 * ```ts
 * import { KhoError, LiveUpdate } from "@luo/live-update";
 * try {
 *   LiveUpdate.create({ size: 4096 }); // an arena has two pages at least
 * } catch (e) {
 *   if (!(e instanceof KhoError && e.code === "EINVAL")) throw e;
 *   console.log(e.message); // "EINVAL: arena size 4096 is outside 8192..."
 * }
 * ```
 */
export class KhoError extends LiveUpdateError {}

/**
 * The native library could not be found, verified or loaded. The code says
 * why and the message what to do: `EACCES` names the missing permission flag,
 * `ENOTSUP` the platform and the supported ones, `EBADMSG` a size or SHA-256
 * that is not the one recorded in the package (the file is never loaded),
 * `EPROTO` the ABI version found and the one needed, `ENOENT` a missing file,
 * `ENOEXEC` a file that does not load on this platform, `EPERM` a download
 * cache another user could change (naming the directory, its owner and
 * mode), `EIO` a failed or timed-out download.
 *
 * @example
 * ```ts
 * import { LiveUpdate, NativeLibraryError } from "@luo/live-update";
 * try {
 *   LiveUpdate.create({ size: 1 << 20, library: "/nonexistent/libkho.so" });
 * } catch (e) {
 *   if (!(e instanceof NativeLibraryError && e.code === "ENOENT")) throw e;
 *   console.error(`cannot load libkho: ${e.message}`);
 * }
 * ```
 */
export class NativeLibraryError extends KhoError {}

/**
 * A handover that committed (the image is published: a live successor
 * finds it) but whose flush to disk failed (`sync: true`): a host crash may
 * bring back the previous image. Nothing is rolled back after it.
 *
 * @example
 * ```ts
 * import { LiveUpdate, UnflushedHandoverError } from "@luo/live-update";
 * const luo = LiveUpdate.create({ size: 1 << 20, sync: true });
 * try {
 *   luo.handover();
 * } catch (e) {
 *   if (!(e instanceof UnflushedHandoverError && e.code === "EIO")) throw e;
 *   console.warn(`handed over (a live successor finds it), not on disk: ${e.message}`);
 * }
 * Deno.removeSync(luo.arena.path); // a handed-over temporary arena stays for its successor
 * ```
 */
export class UnflushedHandoverError extends KhoError {}

/**
 * An error of the LUO layer: sessions, files, handlers.
 *
 * @example
 * ```ts
 * import { LiveUpdate, LuoError } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache");
 * try {
 *   luo.createSession("cache");
 * } catch (e) {
 *   if (!(e instanceof LuoError && e.code === "EEXIST")) throw e;
 *   console.log(e.message); // "EEXIST: session \"cache\" already exists"
 * }
 * ```
 */
export class LuoError extends LiveUpdateError {}

/**
 * Handed-over data failed validation. `where` is the physical address (or
 * other location) of the bad field. Reading a handed-over image reports it
 * as the `cause` of an `EIO` on every later access.
 *
 * @example
 * ```ts
 * import { CorruptImageError, LiveUpdate } from "@luo/live-update";
 * import { Arena } from "@luo/live-update/kho";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * { // A predecessor publishes a root page that is not a device tree.
 *   using arena = Arena.create({ path, size: 1 << 20 });
 *   arena.handover(arena.allocPreserve(4096));
 * }
 * const luo = LiveUpdate.open(path);
 * try {
 *   luo.incomingSessions();
 * } catch (e) {
 *   const cause = (e as Error).cause;
 *   if (!(cause instanceof CorruptImageError && cause.code === "EBADMSG")) throw e;
 *   console.log(cause.message); // "EBADMSG: device tree: bad magic 0x0 (at 0x100001000)"
 * }
 * luo.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class CorruptImageError extends LiveUpdateError {
  /**
   * Where the bad data is, e.g. a physical address.
   *
   * @example
   * ```ts
   * import { CorruptImageError } from "@luo/live-update";
   * const e = new CorruptImageError("my-handler: bad magic", 0x100002000n);
   * console.log(e.where === 0x100002000n, e.code); // true "EBADMSG"
   * ```
   */
  readonly where: bigint | string;
  /**
   * Creates the error; `code` defaults to `EBADMSG`. The message names `where`.
   *
   * @example
   * ```ts
   * import { CorruptImageError } from "@luo/live-update";
   * const e = new CorruptImageError("format 9 is newer than this build", "session \"db\"", "EPROTO");
   * console.log(e.message); // "EPROTO: format 9 is newer than this build (at session "db")"
   * ```
   */
  constructor(message: string, where: bigint | string, code: ErrorCode = "EBADMSG") {
    super(
      code,
      `${message} (at ${typeof where === "bigint" ? "0x" + where.toString(16) : where})`,
    );
    this.where = where;
  }
}

/** A short name of a value's type, for error messages (`null`, `number`, `Uint8Array`, ...). */
export function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (typeof v !== "object") return typeof v;
  return (v as object).constructor?.name ?? "object";
}
