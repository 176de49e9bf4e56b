/**
 * The per-user download cache of native libraries, for a package imported
 * over `https:`/`http:` (from JSR): the platform's library is stored at
 * `<deno dir>/luo-live-update/<version>/<platform>-<sha256 prefix>/`
 * (directories created with mode 0700; the file written to a temporary
 * name, fsynced, renamed). The deno dir is `$DENO_DIR`, else Deno's default
 * (`$XDG_CACHE_HOME/deno` or `$HOME/.cache/deno`; `$HOME/Library/Caches/deno`
 * on macOS).
 *
 * The cache is used only when no other user can change it
 * (`trusted_path.ts`): every directory from `/` down to the file (symlinks
 * resolved) owned by this user or root and not writable by group or others
 * unless sticky, the file owned by this user or root. Otherwise `EPERM`
 * names the directory, its owner and mode. Every other failure is a
 * {@link NativeLibraryError} saying what to do.
 *
 * @module
 */

import { codeOfNative, type ErrorCode, NativeLibraryError } from "../errors.ts";
import type { Access } from "./access.ts";
import { PACKAGE_VERSION, type PrebuiltLibrary } from "./prebuilt.ts";
import { removeIfPresent } from "./temporary.ts";
import { type Trust, trustedPath } from "./trusted_path.ts";

/** Name of the cache's own directory inside the deno dir. */
export const CACHE_NAME = "luo-live-update";

const WHY = "the download cache of the native library";
const REMEDY = "set DENO_DIR to a directory you own (or LUO_NATIVE_LIB to a libkho file you trust)";

/** Deno's cache directory for this user (see the module documentation). */
export function denoDir(access: Access): string {
  const explicit = access.env("DENO_DIR", WHY);
  if (explicit !== undefined) return explicit;
  const home = access.env("HOME", WHY);
  if (Deno.build.os === "darwin" && home !== undefined) return `${home}/Library/Caches/deno`;
  const xdg = access.env("XDG_CACHE_HOME", WHY);
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg}/deno`;
  if (home !== undefined) return `${home}/.cache/deno`;
  const ignored = xdg === undefined
    ? ""
    : ` (XDG_CACHE_HOME=${xdg} is ignored: the XDG base directory specification accepts only ` +
      `an absolute path)`;
  throw new NativeLibraryError(
    "ENOENT",
    `no directory for ${WHY}: neither DENO_DIR nor HOME is set${ignored}; set DENO_DIR (or ` +
      `LUO_NATIVE_LIB to a libkho file)`,
  );
}

/** Where the cache keeps `lib`: its directory and the file in it (symlinks not resolved). */
export function cachePlace(
  lib: PrebuiltLibrary,
  platform: string,
  access: Access,
): { dir: string; file: string } {
  const dir = `${denoDir(access)}/${CACHE_NAME}/${PACKAGE_VERSION}/${platform}-${
    lib.sha256.slice(0, 16)
  }`;
  return { dir, file: `${dir}/${lib.file.slice(lib.file.lastIndexOf("/") + 1)}` };
}

function trust(access: Access): Trust {
  return {
    uid: access.uid(`to check that only you can change ${WHY}`),
    access,
    what: WHY,
    remedy: REMEDY,
  };
}

/**
 * The cached file for `lib`, symlinks resolved (the path to load), or
 * `undefined` when it is not there. Its bytes are not checked here.
 * `EPERM` when another user could change it (see the module documentation).
 */
export function cachedLibrary(
  lib: PrebuiltLibrary,
  platform: string,
  access: Access,
): string | undefined {
  const at = trustedPath(cachePlace(lib, platform, access).file, "file", trust(access));
  return at.missing.length === 0 ? at.real : undefined;
}

/**
 * Stores `bytes` (checked against `lib` already) as the cached library:
 * creates the missing directories (mode 0700), writes a temporary file,
 * fsyncs and renames it. Returns the stored file as {@link cachedLibrary} does.
 */
export function storeInCache(
  lib: PrebuiltLibrary,
  platform: string,
  bytes: Uint8Array,
  access: Access,
): string {
  const place = cachePlace(lib, platform, access);
  const t = trust(access);
  const dir = makeDirectories(place.dir, t);
  writeAtomically(`${dir}/${place.file.slice(place.dir.length + 1)}`, bytes, access);
  const stored = cachedLibrary(lib, platform, access);
  if (stored === undefined) {
    throw new NativeLibraryError("EIO", `${place.file} is missing right after it was stored`);
  }
  return stored;
}

/** Creates what is missing of `path` (mode 0700) inside its trusted part; returns its real path. */
function makeDirectories(path: string, t: Trust): string {
  const at = trustedPath(path, "directory", t);
  let dir = at.real;
  for (const name of at.missing) {
    const parent = dir;
    dir = `${dir}/${name}`;
    const made = dir;
    t.access.run({ name: "write", path: made }, `creating ${WHY} ${made}`, () => {
      try {
        Deno.mkdirSync(made, { mode: 0o700 });
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) throw e;
        // Made by a concurrent run meanwhile: checked below like any other.
        if (!(e instanceof Deno.errors.AlreadyExists)) {
          throw storeError(e, `creating ${made}`, parent);
        }
      }
    });
  }
  const made = trustedPath(dir, "directory", t);
  if (made.missing.length > 0) {
    throw new NativeLibraryError("EIO", `${WHY}: ${dir} is missing right after it was created`);
  }
  return made.real;
}

/** Writes `file` via a temporary file in the same directory, fsynced, then renamed. */
function writeAtomically(file: string, bytes: Uint8Array, access: Access): void {
  const dir = file.slice(0, file.lastIndexOf("/"));
  const tmp = `${dir}/.${Deno.pid}-${crypto.randomUUID()}.tmp`;
  access.run({ name: "write", path: dir }, `storing the native library in ${WHY} ${dir}`, () => {
    try {
      const f = Deno.openSync(tmp, { write: true, createNew: true, mode: 0o500 });
      try {
        let done = 0;
        // Bounded: every pass writes at least one byte.
        while (done < bytes.length) done += f.writeSync(bytes.subarray(done));
        f.syncSync();
      } finally {
        f.close();
      }
      Deno.renameSync(tmp, file);
    } catch (e) {
      const failure = e instanceof Deno.errors.NotCapable
        ? e
        : storeError(e, `writing ${file}`, dir);
      removeTemporary(tmp, failure);
      throw failure;
    }
  });
}

/** Removes the temporary file of a failed store; a failure to do so is added to `failure`'s message. */
function removeTemporary(tmp: string, failure: unknown): void {
  try {
    removeIfPresent(tmp);
  } catch (e) {
    const code: ErrorCode = failure instanceof NativeLibraryError ? failure.code : "EIO";
    throw new NativeLibraryError(
      code,
      `${(failure as Error).message}; the temporary file ${tmp} could not be removed either: ` +
        `${(e as Error).message}`,
      { cause: failure },
    );
  }
}

/** A file-system failure while storing in `dir`, with its errno's code and what to do. */
function storeError(e: unknown, doing: string, dir: string): NativeLibraryError {
  if (e instanceof NativeLibraryError) return e;
  const message = (e as Error).message;
  const errno = /\(os error (\d+)\)/.exec(message);
  const code = errno !== null
    ? codeOfNative(-Number(errno[1]))
    : e instanceof Deno.errors.PermissionDenied
    ? "EACCES"
    : "EIO";
  return new NativeLibraryError(
    code,
    `${WHY}: ${doing} failed: ${message}; make ${dir} writable, or set DENO_DIR to a ` +
      `writable directory you own (or LUO_NATIVE_LIB to a libkho file)`,
    { cause: e },
  );
}
