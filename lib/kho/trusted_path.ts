/**
 * Whether a file can be trusted to stay what was checked until it is
 * loaded: like OpenSSH's secure-path check, every directory from `/` down
 * to it (symlinks resolved) must be owned by this process's user or root
 * and not writable by group or others unless sticky (as `/tmp` is), and the
 * file itself owned by this user or root and writable by nobody else. Then
 * no other user can swap the file between its SHA-256 check and `dlopen`.
 *
 * @module
 */

import { NativeLibraryError } from "../errors.ts";
import type { Access } from "./access.ts";

/** The superuser, trusted like the process's own user. */
const ROOT_UID = 0;
const GROUP_OTHER_WRITE = 0o022;
const STICKY = 0o1000;
/** Bound on the components of a path. */
const MAX_DEPTH = 256;

/** A path split where it stops existing. */
export interface ResolvedPath {
  /** The deepest existing ancestor (or the path itself), symlinks resolved. */
  real: string;
  /** The names below `real` that do not exist yet, outermost first. */
  missing: string[];
}

/** What the checks report in their errors, and who is trusted. */
export interface Trust {
  /** This process's user id (trusted with root). */
  uid: number;
  /** Reads the file system (asking for `--allow-read` or not). */
  access: Access;
  /** What the path is, for the messages (e.g. "the download cache of the native library"). */
  what: string;
  /** What the user can do instead, for the messages. */
  remedy: string;
}

/**
 * Resolves `path` (which may not exist yet) and checks that nobody but the
 * trusted users can change anything on the way: every directory of its
 * existing part, and `path` itself when it exists (a regular file or a
 * directory, as `kind` says). `EPERM` names the first unsafe directory or
 * file, its owner and mode.
 */
export function trustedPath(path: string, kind: "file" | "directory", trust: Trust): ResolvedPath {
  const at = existingPart(path, trust);
  const chain = ["/"];
  for (const name of at.real.split("/")) {
    if (name !== "") chain.push(`${chain.length === 1 ? "" : chain[chain.length - 1]}/${name}`);
  }
  for (let i = 0; i < chain.length; i++) {
    const st = lstat(chain[i], trust);
    const isTarget = i === chain.length - 1 && at.missing.length === 0;
    if (isTarget && kind === "file") checkFile(chain[i], st, trust);
    else checkDirectory(chain[i], st, trust);
  }
  if (at.denied !== undefined) {
    throw new NativeLibraryError(
      "EACCES",
      `${trust.what}: cannot look into ${at.real} (${at.denied}): ${trust.remedy}`,
    );
  }
  return { real: at.real, missing: at.missing };
}

/** The realpath of the deepest existing ancestor of `path`, and what lies below it. */
function existingPart(path: string, trust: Trust): ResolvedPath & { denied?: string } {
  const missing: string[] = [];
  let at = path;
  let denied: string | undefined;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const real = realPath(at, trust);
    if (typeof real === "string") return { real, missing, denied };
    denied ??= real.denied;
    const cut = at.lastIndexOf("/");
    const name = at.slice(cut + 1);
    if (name === "." || name === "..") {
      throw new NativeLibraryError(
        "EINVAL",
        `${trust.what}: ${path} has "${name}" in a part that does not exist: give a plain path`,
      );
    }
    if (name !== "") missing.unshift(name);
    at = cut > 0 ? at.slice(0, cut) : cut === 0 ? "/" : ".";
  }
  throw new NativeLibraryError("ENAMETOOLONG", `${trust.what}: ${path} is too deep`);
}

/** `Deno.realPathSync(path)`, or why it failed when the path is absent or not searchable. */
function realPath(path: string, trust: Trust): string | { denied?: string } {
  return trust.access.run(
    { name: "read", path },
    `resolving ${path} (${trust.what})`,
    () => {
      try {
        return Deno.realPathSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return {};
        if (e instanceof Deno.errors.PermissionDenied) return { denied: (e as Error).message };
        throw new NativeLibraryError(
          "EIO",
          `${trust.what}: cannot resolve ${path}: ${(e as Error).message}`,
          { cause: e },
        );
      }
    },
  );
}

function lstat(path: string, trust: Trust): Deno.FileInfo {
  return trust.access.run(
    { name: "read", path },
    `checking who can change ${path} (${trust.what})`,
    () => {
      try {
        return Deno.lstatSync(path);
      } catch (e) {
        throw new NativeLibraryError(
          "EIO",
          `${trust.what}: cannot look at ${path}: ${(e as Error).message}: ${trust.remedy}`,
          { cause: e },
        );
      }
    },
  );
}

function checkDirectory(path: string, st: Deno.FileInfo, trust: Trust): void {
  if (!st.isDirectory || st.isSymlink) {
    throw new NativeLibraryError(
      "ENOTDIR",
      `${trust.what}: ${path} is not a directory: ${trust.remedy}`,
    );
  }
  checkOwner(path, st, trust);
  const mode = st.mode ?? 0;
  if ((mode & GROUP_OTHER_WRITE) !== 0 && (mode & STICKY) === 0) {
    throw unsafe(path, st, trust, "is writable by group or others and not sticky");
  }
}

function checkFile(path: string, st: Deno.FileInfo, trust: Trust): void {
  if (!st.isFile || st.isSymlink) throw unsafe(path, st, trust, "is not a regular file");
  checkOwner(path, st, trust);
  if (((st.mode ?? 0) & GROUP_OTHER_WRITE) !== 0) {
    throw unsafe(path, st, trust, "is writable by group or others");
  }
}

function checkOwner(path: string, st: Deno.FileInfo, trust: Trust): void {
  if (st.uid !== trust.uid && st.uid !== ROOT_UID) {
    throw unsafe(
      path,
      st,
      trust,
      `is owned by another user (this process runs as uid ${trust.uid})`,
    );
  }
}

function unsafe(path: string, st: Deno.FileInfo, trust: Trust, why: string): NativeLibraryError {
  const mode = ((st.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
  return new NativeLibraryError(
    "EPERM",
    `${trust.what}: ${path} (owner uid ${st.uid}, mode ${mode}) ${why}: another user could ` +
      `replace the library between its check and its load, so it is not used; ${trust.remedy}`,
  );
}
