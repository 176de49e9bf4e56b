/**
 * Finding, verifying and opening the native library (libkho). The first
 * of these that applies is loaded:
 *
 * 1. the `library` option of `Arena.create`/`open` (and of everything built
 *    on them), a path;
 * 2. `$LUO_NATIVE_LIB`, a path (for 1 and 2, a relative path or a bare name
 *    is a file in the working directory, never searched for on the
 *    system's library path);
 * 3. the module is a `file:` URL (a checkout, a vendored copy): the local
 *    build `zig-out/lib/libkho.*` when present, else the package's prebuilt
 *    library for the platform, `native/prebuilt/<os>-<arch>/`, after checking
 *    its size and SHA-256 against `prebuilt.ts`;
 * 4. the module is an `https:`/`http:` URL (imported from JSR): the
 *    platform's prebuilt library from the per-user download cache
 *    (`library_cache.ts`, used only when no other user can change it),
 *    fetched from the package's own URL while this module is imported and
 *    checked against `prebuilt.ts` before it is stored and again before
 *    it is loaded.
 *
 * The download while the module is imported never prompts for a
 * permission (it uses only what is granted: `access.ts`), is bounded in time
 * (`download.ts`) and never throws: what it failed with is thrown, typed,
 * when the library is first needed, so a program that passes its own
 * `library` never sees it. The file is opened once (`library_open.ts`):
 * its ABI version is checked before the symbols are bound. Every failure
 * is a {@link NativeLibraryError} saying what to do.
 *
 * @module
 */

import { NativeLibraryError, typeOf } from "../errors.ts";
import { type Access, ASKING, GRANTED_ONLY } from "./access.ts";
import { readVerified, verifyBytes } from "./checksum.ts";
import { download, downloadTimeout } from "./download.ts";
import { checkInfoSize } from "./info.ts";
import { cachedLibrary, cachePlace, storeInCache } from "./library_cache.ts";
import { openLibrary } from "./library_open.ts";
import { withPermission } from "./permission.ts";
import { PREBUILT, type PrebuiltLibrary } from "./prebuilt.ts";
import { statIfPresent } from "./stat.ts";
import type { Native } from "./symbols.ts";

/**
 * Environment variable naming the native library file to load instead of
 * the packaged one (a relative path is from the working directory).
 *
 * @example
 * ```ts
 * import { LIBRARY_ENV } from "@luo/live-update";
 * // What the next arena loads: a library of your own build, else the packaged one.
 * console.log(Deno.env.get(LIBRARY_ENV) ?? "the packaged library"); // unless LUO_NATIVE_LIB is set
 * ```
 */
export const LIBRARY_ENV = "LUO_NATIVE_LIB";

/** Where a loaded library came from (rule 1 to 4 of the module documentation). */
export type LibrarySource =
  | "option"
  | "environment"
  | "local build"
  | "prebuilt"
  | "download cache";

/** A library file to load and how to check it first. */
interface Candidate {
  path: string;
  source: LibrarySource;
  /** The recorded size and SHA-256 the file must have (prebuilt and cached files). */
  expect?: PrebuiltLibrary;
}

/** The root of the package (this file is lib/kho/library.ts). */
const PACKAGE_ROOT = new URL("../../", import.meta.url);
/** Whether this module was imported over the network (rule 4). */
const REMOTE = PACKAGE_ROOT.protocol === "https:" || PACKAGE_ROOT.protocol === "http:";
const WHY_ENV = "a libkho file to load instead of the packaged one";

/**
 * This platform's name in {@link PREBUILT}: `<Deno.build.os>-<Deno.build.arch>`.
 *
 * @example
 * ```ts
 * import { platformName, PREBUILT } from "@luo/live-update/kho";
 * console.log(platformName()); // "linux-x86_64" on an x86-64 Linux
 * // Whether the package brings a library for the machines you deploy to.
 * console.log(Object.hasOwn(PREBUILT, platformName("linux", "aarch64"))); // true
 * ```
 */
export function platformName(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  return `${os}-${arch}`;
}

/**
 * The prebuilt library of `platform` (default: this one), or `ENOTSUP`
 * naming it and the supported platforms.
 *
 * @example
 * ```ts
 * import { NativeLibraryError, prebuiltFor } from "@luo/live-update/kho";
 * console.log(prebuiltFor("linux-aarch64").file); // "native/prebuilt/linux-aarch64/libkho.so"
 * try {
 *   prebuiltFor("windows-x86_64");
 * } catch (e) {
 *   console.log(e instanceof NativeLibraryError && e.code); // "ENOTSUP": build native/ yourself
 * }
 * ```
 */
export function prebuiltFor(platform: string = platformName()): PrebuiltLibrary {
  if (Object.hasOwn(PREBUILT, platform)) return PREBUILT[platform];
  throw new NativeLibraryError(
    "ENOTSUP",
    `no native library for ${platform} in this package (it has ${
      Object.keys(PREBUILT).join(", ")
    }): build native/ with Zig (\`zig build --release\`) and set ${LIBRARY_ENV} to the library`,
  );
}

/**
 * A path the user gave: absolute as it is; relative (a bare name too) from
 * the working directory, never searched for on the system's library path.
 */
function givenPath(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
}

/** The file loaded for `explicit` (rules 1 to 4), and what to check before loading it. */
function candidate(explicit: string | undefined): Candidate {
  if (explicit !== undefined) {
    if (typeof explicit !== "string" || explicit === "") {
      const got = typeof explicit === "string" ? `""` : typeOf(explicit);
      throw new NativeLibraryError("EINVAL", `library must be a non-empty path, got ${got}`);
    }
    return { path: givenPath(explicit), source: "option" };
  }
  const fromEnv = ASKING.env(LIBRARY_ENV, WHY_ENV);
  if (fromEnv !== undefined) return { path: givenPath(fromEnv), source: "environment" };
  if (PACKAGE_ROOT.protocol === "file:") return packaged ??= packagedCandidate();
  if (REMOTE) return packaged ??= cachedCandidate();
  throw new NativeLibraryError(
    "ENOTSUP",
    `this module was loaded from a ${PACKAGE_ROOT.protocol} URL, where no native library can ` +
      `be found: set ${LIBRARY_ENV} to a libkho file`,
  );
}

/** The library of rule 3 or 4, found once. */
let packaged: Candidate | undefined;

/** Rule 3: the local build when present, else the verified prebuilt file. */
function packagedCandidate(): Candidate {
  const platform = platformName();
  const ext = Deno.build.os === "darwin" ? "dylib" : "so";
  const local = filePath(new URL(`zig-out/lib/libkho.${ext}`, PACKAGE_ROOT));
  const present = withPermission(
    `looking for the local build ${local}`,
    () => statIfPresent(local)?.isFile ?? false,
    NativeLibraryError,
    local,
  );
  if (present) return { path: local, source: "local build" };
  const lib = prebuiltFor(platform);
  return { path: filePath(new URL(lib.file, PACKAGE_ROOT)), source: "prebuilt", expect: lib };
}

/** Rule 4: the cached download (made while this module was imported, or by prepareNativeLibrary). */
function cachedCandidate(): Candidate {
  const platform = platformName();
  const lib = prebuiltFor(platform);
  const path = cachedLibrary(lib, platform, ASKING);
  if (path !== undefined) return { path, source: "download cache", expect: lib };
  if (importFailure !== undefined) throw notDownloaded(importFailure);
  throw new NativeLibraryError(
    "ENOENT",
    `the native library is not in ${cachePlace(lib, platform, ASKING).file}: call ` +
      `\`await prepareNativeLibrary()\` before the first arena is created`,
  );
}

/** What the download while the module was imported failed with, told at first use. */
function notDownloaded(e: unknown): NativeLibraryError {
  const code = e instanceof NativeLibraryError ? e.code : "EIO";
  const why = e instanceof NativeLibraryError
    ? e.message.slice(code.length + 2)
    : String((e as Error)?.message ?? e);
  return new NativeLibraryError(
    code,
    `the native library was not downloaded while the module was imported: ${why}; run ` +
      `again with that fixed, or call \`await prepareNativeLibrary()\` (it asks for a missing ` +
      `permission), or set ${LIBRARY_ENV} or the library option`,
    { cause: e },
  );
}

function filePath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/**
 * Makes sure the native library can be loaded without waiting: for a
 * module imported over `https:`/`http:`, downloads the platform's library
 * into the cache unless an intact copy is there (a damaged copy is
 * replaced). Runs by itself, without asking for any permission, while such
 * a module is imported; call it to try again with Deno asking for what is
 * missing, or to get its errors at a time of your choosing. A no-op when
 * the module is a local file or `$LUO_NATIVE_LIB` is set.
 *
 * @example
 * ```ts
 * import { LiveUpdate, prepareNativeLibrary } from "@luo/live-update";
 * // At startup: a NativeLibraryError now, naming what is missing, rather than at the first arena.
 * await prepareNativeLibrary();
 * using luo = LiveUpdate.create({ size: 1 << 20 }); // loads the library without waiting
 * ```
 */
export async function prepareNativeLibrary(): Promise<void> {
  await prepare(ASKING);
  importFailure = undefined;
}

async function prepare(access: Access): Promise<void> {
  if (!REMOTE || access.env(LIBRARY_ENV, WHY_ENV) !== undefined) return;
  const platform = platformName();
  const lib = prebuiltFor(platform);
  const cached = cachedLibrary(lib, platform, access);
  if (cached !== undefined && intact(cached, lib, access)) return;
  const url = new URL(lib.file, PACKAGE_ROOT);
  const bytes = await download(url, lib.size, access, downloadTimeout());
  verifyBytes(bytes, lib, `the native library downloaded from ${url.href}`);
  storeInCache(lib, platform, bytes, access);
}

/** Whether the cached file at `path` has the recorded bytes (a damaged copy is replaced). */
function intact(path: string, lib: PrebuiltLibrary, access: Access): boolean {
  try {
    const bytes = access.run(
      { name: "read", path },
      `reading the native library ${path}`,
      () => readVerified(path, lib),
    );
    return bytes !== undefined;
  } catch (e) {
    if (e instanceof NativeLibraryError && e.code === "EBADMSG") return false;
    throw e;
  }
}

/**
 * What the download while the module was imported failed with (a missing
 * permission included), thrown when the library is needed: a program that
 * passes its own `library` never needs the download.
 */
let importFailure: unknown;
if (REMOTE) {
  try {
    await prepare(GRANTED_ONLY);
  } catch (e) {
    importFailure = e;
  }
}

const loaded = new Map<string, Native>();

/**
 * Loads the native library (once per file) by rules 1 to 4 of the module
 * documentation, checks its ABI version, and returns its symbols.
 */
export function loadNative(explicit?: string): Native {
  const c = candidate(explicit);
  const done = loaded.get(c.path);
  if (done) return done;
  if (c.expect !== undefined && readVerified(c.path, c.expect) === undefined) {
    throw new NativeLibraryError("ENOENT", `the ${c.source} library ${c.path} is missing`);
  }
  const native = openLibrary({
    path: c.path,
    origin: describe(c.source),
    remedy: remedy(c.source),
  });
  checkInfoSize(native, c.path);
  loaded.set(c.path, native);
  return native;
}

function describe(source: LibrarySource): string {
  switch (source) {
    case "option":
      return "the library option";
    case "environment":
      return `from ${LIBRARY_ENV}`;
    default:
      return `the ${source}`;
  }
}

function remedy(source: LibrarySource): string {
  switch (source) {
    case "option":
    case "environment":
      return `use a libkho built from this version's native/ sources, or leave it unset to ` +
        `load the packaged one`;
    case "local build":
      return "rebuild it (`./luo zig build --release`, or any ./luo command)";
    default:
      return "the package is inconsistent: reinstall it";
  }
}
