/**
 * The permissions the library loader uses, asked for or only looked up.
 * While the module is being imported nothing may prompt: every operation
 * first checks with `Deno.permissions.querySync` that its permission is
 * granted and otherwise fails with an `EACCES` error naming the flag,
 * without asking ({@link GRANTED_ONLY}). At first use, or in an explicit
 * `prepareNativeLibrary()`, Deno asks or refuses as it always does
 * ({@link ASKING}); a refusal is an `EACCES` error naming the flag too.
 *
 * @module
 */

import { NativeLibraryError } from "../errors.ts";
import { withPermission, withPermissionAsync } from "./permission.ts";

/** Whether an operation may make Deno prompt for its permission. */
export type Asking = "ask" | "granted only";

/** Whether `desc` is granted now (never prompts). */
export function isGranted(desc: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(desc).state === "granted";
}

/** Runs the loader's operations that need a permission, asking for it or not. */
export class Access {
  /** `"ask"`: Deno may prompt; `"granted only"`: only what is granted is used. */
  readonly asking: Asking;

  /** Creates the policy. */
  constructor(asking: Asking) {
    this.asking = asking;
  }

  /** Runs `fn`, which needs `desc`; `what` says what it does, for the error. */
  run<T>(desc: Deno.PermissionDescriptor, what: string, fn: () => T): T {
    this.#require(desc, what);
    return withPermission(what, fn, NativeLibraryError, scopeOf(desc));
  }

  /** {@link Access.run} for an async `fn`. */
  async runAsync<T>(
    desc: Deno.PermissionDescriptor,
    what: string,
    fn: () => Promise<T>,
  ): Promise<T> {
    this.#require(desc, what);
    return await withPermissionAsync(what, fn, NativeLibraryError, scopeOf(desc));
  }

  /** The value of environment variable `name` (`undefined` when unset or empty). */
  env(name: string, why: string): string | undefined {
    const value = this.run(
      { name: "env", variable: name },
      `reading $${name} (${why})`,
      () => Deno.env.get(name),
    );
    return value === "" ? undefined : value;
  }

  /** This process's user id (`--allow-sys=uid`). */
  uid(why: string): number {
    return this.run({ name: "sys", kind: "uid" }, `reading this process's user id (${why})`, () => {
      const uid = Deno.uid();
      if (uid === null) {
        throw new NativeLibraryError("ENOTSUP", `${why}: this platform has no user ids`);
      }
      return uid;
    });
  }

  #require(desc: Deno.PermissionDescriptor, what: string): void {
    if (this.asking === "ask" || isGranted(desc)) return;
    throw new NativeLibraryError(
      "EACCES",
      `${what} needs ${flagOf(desc)} (not granted; nothing is asked while the module is imported)`,
    );
  }
}

/** Deno may prompt (first use, `prepareNativeLibrary()`). */
export const ASKING: Access = new Access("ask");
/** Nothing prompts: only granted permissions are used (while the module is imported). */
export const GRANTED_ONLY: Access = new Access("granted only");

/** The narrowest value of the flag that grants `desc` (`HOME` of `--allow-env=HOME`). */
function scopeOf(desc: Deno.PermissionDescriptor): string | undefined {
  switch (desc.name) {
    case "env":
      return desc.variable;
    case "read":
    case "write":
      return desc.path === undefined ? undefined : String(desc.path);
    case "net":
      return desc.host;
    case "sys":
      return desc.kind;
    default:
      return undefined;
  }
}

/** The flag that grants `desc`, scoped as narrowly as it can be. */
export function flagOf(desc: Deno.PermissionDescriptor): string {
  const scope = scopeOf(desc);
  return `--allow-${desc.name}${scope === undefined ? "" : `=${scope}`}`;
}
