/**
 * Finding, verifying and opening the native library (libkho). The first
 * of these that applies is loaded:
 *
 * 1. the `library` option of `Arena.create`/`open` (and of everything built
 *    on them), a path;
 * 2. `$LUO_NATIVE_LIB`, a path;
 * 3. the module is a `file:` URL (a checkout, a vendored copy): the local
 *    build `zig-out/lib/libkho.*` when present, else the package's prebuilt
 *    library for the platform, `native/prebuilt/<os>-<arch>/`, after checking
 *    its size and SHA-256 against `prebuilt.ts`;
 * 4. the module is an `https:`/`http:` URL (imported from JSR): the
 *    platform's prebuilt library from the per-user download cache
 *    (`library_cache.ts`), fetched from the package's own URL when this
 *    module is first evaluated and checked against `prebuilt.ts` before it
 *    is stored and again before every load.
 *
 * Before the symbols are bound, the library's ABI version is checked.
 * Every failure is a {@link NativeLibraryError} saying what to do.
 *
 * @module
 */

import { NativeLibraryError, typeOf } from "../errors.ts";
import { checkInfoSize } from "./info.ts";
import { ABI_VERSION, type Native, symbols } from "./symbols.ts";
import { readVerified } from "./checksum.ts";
import { cachedLibrary, cachePaths, downloadToCache } from "./library_cache.ts";
import { readEnv, withPermission } from "./permission.ts";
import { PREBUILT, type PrebuiltLibrary } from "./prebuilt.ts";
import { statIfPresent } from "./stat.ts";

/** Environment variable naming the native library file. */
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

/** This platform's name in {@link PREBUILT}: `<Deno.build.os>-<Deno.build.arch>`. */
export function platformName(os: string = Deno.build.os, arch: string = Deno.build.arch): string {
  return `${os}-${arch}`;
}

/** The prebuilt library of `platform`, or `ENOTSUP` naming it and the supported platforms. */
export function prebuiltFor(platform: string = platformName()): PrebuiltLibrary {
  if (Object.hasOwn(PREBUILT, platform)) return PREBUILT[platform];
  throw new NativeLibraryError(
    "ENOTSUP",
    `no native library for ${platform} in this package (it has ${
      Object.keys(PREBUILT).join(", ")
    }): build native/ with Zig (\`zig build --release\`) and set ${LIBRARY_ENV} to the library`,
  );
}

/** The file loaded for `explicit` (rules 1 to 4), and what to check before loading it. */
function candidate(explicit: string | undefined): Candidate {
  if (explicit !== undefined) {
    if (typeof explicit !== "string" || explicit === "") {
      const got = typeof explicit === "string" ? `""` : typeOf(explicit);
      throw new NativeLibraryError("EINVAL", `library must be a non-empty path, got ${got}`);
    }
    return { path: explicit, source: "option" };
  }
  const fromEnv = readEnv(LIBRARY_ENV, WHY_ENV, NativeLibraryError);
  if (fromEnv !== undefined) return { path: fromEnv, source: "environment" };
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

/** Rule 4: the cached download (made when this module was evaluated). */
function cachedCandidate(): Candidate {
  const platform = platformName();
  const lib = prebuiltFor(platform);
  const path = cachedLibrary(lib, platform, false);
  if (path !== undefined) return { path, source: "download cache", expect: lib };
  if (downloadError !== undefined) throw downloadError;
  throw new NativeLibraryError(
    "ENOENT",
    `the native library is not in ${cachePaths(lib, platform).file}: call ` +
      `\`await prepareNativeLibrary()\` before the first arena is created`,
  );
}

function filePath(url: URL): string {
  return decodeURIComponent(url.pathname);
}

/**
 * Makes sure the native library can be loaded without waiting: for a
 * module imported over `https:`/`http:`, downloads the platform's library
 * into the cache unless an intact copy is there (a damaged copy is
 * replaced). Runs once by itself when such a module is first evaluated;
 * call it to get its errors at a time of your choosing. A no-op when
 * `$LUO_NATIVE_LIB` is set or the module is a local file.
 *
 * @example
 * ```ts ignore
 * import { prepareNativeLibrary } from "@luo/live-update/kho";
 * await prepareNativeLibrary(); // throws NativeLibraryError naming what is missing
 * ```
 */
export async function prepareNativeLibrary(): Promise<void> {
  if (readEnv(LIBRARY_ENV, WHY_ENV, NativeLibraryError) !== undefined) return;
  if (!REMOTE) return;
  const platform = platformName();
  const lib = prebuiltFor(platform);
  try {
    if (cachedLibrary(lib, platform, true) !== undefined) return;
  } catch (e) {
    // A damaged cached copy is replaced below; anything else is reported.
    if (!(e instanceof NativeLibraryError) || e.code !== "EBADMSG") throw e;
  }
  await downloadToCache(lib, platform, PACKAGE_ROOT);
  downloadError = undefined;
}

/**
 * What the download at evaluation failed with, thrown when the library is
 * needed (not at import: a program that passes its own `library` never
 * needs the download).
 */
let downloadError: unknown;
if (REMOTE) {
  try {
    await prepareNativeLibrary();
  } catch (e) {
    downloadError = e;
  }
}

const loaded = new Map<string, Native>();

/**
 * Loads the native library (once per file) by rules 1 to 4 of the module
 * documentation, checks its ABI version, and returns its symbols.
 */
export function loadNative(explicit?: string): Native {
  const c = candidate(explicit);
  const cached = loaded.get(c.path);
  if (cached) return cached;
  if (c.expect !== undefined && readVerified(c.path, c.expect) === undefined) {
    throw new NativeLibraryError("ENOENT", `the ${c.source} library ${c.path} is missing`);
  }
  checkAbiVersion(c);
  const lib = open(c, symbols);
  checkInfoSize(lib.symbols, c.path);
  loaded.set(c.path, lib.symbols);
  return lib.symbols;
}

function open<S extends Deno.ForeignLibraryInterface>(c: Candidate, s: S): Deno.DynamicLibrary<S> {
  return withPermission(
    `loading the native library ${c.path}`,
    () => {
      try {
        return Deno.dlopen(c.path, s);
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) throw e;
        throw new NativeLibraryError(
          /No such file/.test((e as Error).message) ? "ENOENT" : "ENOEXEC",
          `cannot load the native library ${c.path} (${describe(c.source)}): ${
            (e as Error).message
          }`,
          { cause: e },
        );
      }
    },
    NativeLibraryError,
    c.path,
  );
}

/** Opens the library with only `kho_abi_version` first: another ABI may lack other symbols. */
function checkAbiVersion(c: Candidate): void {
  const probe = open(c, { kho_abi_version: symbols.kho_abi_version });
  const version = probe.symbols.kho_abi_version();
  probe.close();
  if (version === ABI_VERSION) return;
  throw new NativeLibraryError(
    "EPROTO",
    `the native library ${c.path} (${describe(c.source)}) has ABI version ${version}, ` +
      `this version of the module needs ABI version ${ABI_VERSION}: ${remedy(c.source)}`,
  );
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
