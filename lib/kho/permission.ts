/**
 * Deno permission failures turned into errors that name the flag to add:
 * `Deno.errors.NotCapable` says "run again with the --allow-read flag";
 * this module finds that flag and lets the caller say what needed it.
 *
 * @module
 */

import { type ErrorCode, KhoError } from "../errors.ts";

/** A constructor of the typed error to throw (KhoError or a subclass). */
export type ErrorClass = new (code: ErrorCode, message: string, options?: ErrorOptions) => KhoError;

/**
 * The flag a permission failure asks for (`--allow-read`, `--allow-all` ...),
 * or `undefined` when `e` is not a permission failure.
 */
export function missingFlag(e: unknown): string | undefined {
  if (!(e instanceof Deno.errors.NotCapable)) return undefined;
  return /--allow-[a-z]+/.exec(e.message)?.[0] ?? "--allow-all";
}

/**
 * Runs `fn`; a permission failure becomes an `EACCES` error of class
 * `errorClass` saying `what` needed it and which flag to add (`scope`, when
 * given, is the narrowest value of that flag, e.g. `HOME` for
 * `--allow-env=HOME`). Other errors pass through unchanged.
 */
export function withPermission<T>(
  what: string,
  fn: () => T,
  errorClass: ErrorClass = KhoError,
  scope?: string,
): T {
  try {
    return fn();
  } catch (e) {
    throw permissionError(e, what, errorClass, scope) ?? e;
  }
}

/** {@link withPermission} for an async `fn`. */
export async function withPermissionAsync<T>(
  what: string,
  fn: () => Promise<T>,
  errorClass: ErrorClass = KhoError,
  scope?: string,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw permissionError(e, what, errorClass, scope) ?? e;
  }
}

function permissionError(
  e: unknown,
  what: string,
  errorClass: ErrorClass,
  scope: string | undefined,
): KhoError | undefined {
  const flag = missingFlag(e);
  if (flag === undefined) return undefined;
  const narrow = scope !== undefined && flag !== "--allow-all" ? ` (or ${flag}=${scope})` : "";
  const why = flag === "--allow-all"
    ? " (Deno grants paths under /dev and /proc only with --allow-all)"
    : "";
  return new errorClass("EACCES", `${what} needs ${flag}${narrow}${why}`, { cause: e });
}

/**
 * The value of environment variable `name` (`undefined` when unset or
 * empty); without permission to read it, an `EACCES` error naming
 * `--allow-env=NAME` and `why` it is read.
 */
export function readEnv(
  name: string,
  why: string,
  errorClass: ErrorClass = KhoError,
): string | undefined {
  const value = withPermission(
    `reading $${name} (${why})`,
    () => Deno.env.get(name),
    errorClass,
    name,
  );
  return value === "" ? undefined : value;
}
