/**
 * The per-user download cache of native libraries, for a package imported
 * over `https:`/`http:` (from JSR): the platform's library is fetched once
 * from the package's own URL, checked against the SHA-256 recorded in
 * `prebuilt.ts`, and stored atomically (temporary file, fsync, rename) at
 * `<deno dir>/luo-live-update/<version>/<platform>-<sha256 prefix>/`, in
 * directories of mode 0700. The deno dir is `$DENO_DIR`, else Deno's default
 * (`$XDG_CACHE_HOME/deno` or `$HOME/.cache/deno`; `$HOME/Library/Caches/deno`
 * on macOS). Later runs load from there with no network; the file is checked
 * again before every load.
 *
 * @module
 */

import { NativeLibraryError } from "../errors.ts";
import { readVerified, verifyBytes } from "./checksum.ts";
import { readEnv, withPermission, withPermissionAsync } from "./permission.ts";
import { PACKAGE_VERSION, type PrebuiltLibrary } from "./prebuilt.ts";
import { statIfPresent } from "./stat.ts";

/** Name of the cache's own directory inside the deno dir. */
export const CACHE_NAME = "luo-live-update";
/** How long a download may take before it is abandoned. */
export const DOWNLOAD_TIMEOUT_MS = 60_000;

const WHY = "the download cache of the native library";

/** Deno's cache directory for this user (see the module documentation). */
export function denoDir(): string {
  const explicit = readEnv("DENO_DIR", WHY, NativeLibraryError);
  if (explicit !== undefined) return explicit;
  const home = readEnv("HOME", WHY, NativeLibraryError);
  if (Deno.build.os === "darwin" && home !== undefined) return `${home}/Library/Caches/deno`;
  const xdg = readEnv("XDG_CACHE_HOME", WHY, NativeLibraryError);
  if (xdg !== undefined && xdg.startsWith("/")) return `${xdg}/deno`;
  if (home !== undefined) return `${home}/.cache/deno`;
  throw new NativeLibraryError(
    "ENOENT",
    `no directory for ${WHY}: set DENO_DIR or HOME (or LUO_NATIVE_LIB to a libkho file)`,
  );
}

/** The cache's root directory, its version directory and the library file for `lib`. */
export function cachePaths(lib: PrebuiltLibrary, platform: string) {
  const root = `${denoDir()}/${CACHE_NAME}`;
  const version = `${root}/${PACKAGE_VERSION}`;
  const dir = `${version}/${platform}-${lib.sha256.slice(0, 16)}`;
  const name = lib.file.slice(lib.file.lastIndexOf("/") + 1);
  return { root, dirs: [root, version, dir], file: `${dir}/${name}` };
}

/**
 * The cached library for `platform` when it is there, else `undefined`;
 * with `verify`, only when it is intact (`EBADMSG` when it has other
 * bytes). `EACCES` when a cache directory is open to group or others.
 */
export function cachedLibrary(
  lib: PrebuiltLibrary,
  platform: string,
  verify: boolean,
): string | undefined {
  const paths = cachePaths(lib, platform);
  for (const dir of paths.dirs) {
    const st = lstat(dir);
    if (st === undefined) return undefined;
    checkPrivateDir(dir, st);
  }
  if (verify) return readVerified(paths.file, lib) === undefined ? undefined : paths.file;
  return lstat(paths.file) === undefined ? undefined : paths.file;
}

function lstat(path: string): Deno.FileInfo | undefined {
  return withPermission(
    `reading ${WHY} ${path}`,
    () => statIfPresent(path, false),
    NativeLibraryError,
    path,
  );
}

/** Throws `EACCES` unless `dir` (`st` its lstat) is a directory, not a symlink, of mode 0700 or narrower. */
function checkPrivateDir(dir: string, st: Deno.FileInfo | undefined): void {
  if (st === undefined || !st.isDirectory || st.isSymlink) {
    throw new NativeLibraryError("EACCES", `${WHY} ${dir} is not a directory (or a symlink)`);
  }
  const mode = (st.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new NativeLibraryError(
      "EACCES",
      `${WHY} ${dir} has mode 0${mode.toString(8)}: group or others could replace the ` +
        `library; make it private (chmod 700) or remove it`,
    );
  }
}

/**
 * Downloads `lib` from the package at `packageRoot`, checks it and stores it
 * in the cache (atomically); returns the cached file. A download that is
 * not byte for byte the recorded library is refused (`EBADMSG`) and
 * nothing is stored.
 */
export async function downloadToCache(
  lib: PrebuiltLibrary,
  platform: string,
  packageRoot: URL,
): Promise<string> {
  const url = new URL(lib.file, packageRoot);
  const bytes = await download(url, lib.size);
  verifyBytes(bytes, lib, `the native library downloaded from ${url.href}`);
  const paths = cachePaths(lib, platform);
  storeAtomically(paths.dirs, paths.file, bytes);
  return paths.file;
}

/** The body of `url`, at most `limit + 1` bytes (more means a wrong file anyway). */
async function download(url: URL, limit: number): Promise<Uint8Array> {
  const what = `downloading the native library from ${url.href} (once; it is then cached)`;
  const res = await withPermissionAsync(
    what,
    async () => {
      try {
        return await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
      } catch (e) {
        if (e instanceof Deno.errors.NotCapable) throw e;
        throw new NativeLibraryError("EIO", `${what}: ${(e as Error).message}`, { cause: e });
      }
    },
    NativeLibraryError,
    url.host,
  );
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new NativeLibraryError("EIO", `${what}: HTTP ${res.status} ${res.statusText}`);
  }
  return await readAtMost(res.body, limit + 1, what);
}

async function readAtMost(
  body: ReadableStream<Uint8Array>,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let done = 0;
  const reader = body.getReader();
  try {
    // Bounded: every chunk adds bytes, and the loop stops at `max`.
    while (done < max) {
      const { value, done: end } = await reader.read();
      if (end) return out.subarray(0, done);
      const n = Math.min(value.length, max - done);
      out.set(value.subarray(0, n), done);
      done += n;
    }
    // Longer than any right answer: stop receiving (the size check refuses it).
    await reader.cancel();
    return out;
  } catch (e) {
    throw new NativeLibraryError("EIO", `${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Writes `bytes` to `file` via a temporary file in the same directory, fsynced, then renamed. */
function storeAtomically(dirs: string[], file: string, bytes: Uint8Array): void {
  const dir = dirs[dirs.length - 1];
  const tmp = `${dir}/.${Deno.pid}-${crypto.randomUUID()}.tmp`;
  withPermission(
    `storing the native library in ${WHY} ${dir}`,
    () => {
      Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const d of dirs) checkPrivateDir(d, lstat(d));
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
        removeIfPresent(tmp);
        if (e instanceof Deno.errors.NotCapable) throw e;
        throw new NativeLibraryError("EIO", `cannot store ${file}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    },
    NativeLibraryError,
    dirs[0],
  );
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}
