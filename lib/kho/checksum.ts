/**
 * Checking a native library file against the size and SHA-256 recorded in
 * the package (`prebuilt.ts`) before it is loaded.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { NativeLibraryError } from "../errors.ts";
import { withPermission } from "./permission.ts";
import type { PrebuiltLibrary } from "./prebuilt.ts";

/** SHA-256 of `bytes` as 64 lowercase hex digits. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Throws `EBADMSG` unless `bytes` have the size and SHA-256 of `expected`;
 * `where` names the file or URL they came from.
 */
export function verifyBytes(bytes: Uint8Array, expected: PrebuiltLibrary, where: string): void {
  if (bytes.length !== expected.size) throw sizeMismatch(where, bytes.length, expected.size);
  const actual = sha256Hex(bytes);
  if (actual !== expected.sha256) {
    throw new NativeLibraryError(
      "EBADMSG",
      `${where} has SHA-256 ${actual}, the package records ${expected.sha256} ` +
        `(damaged or tampered with): refused, not loaded`,
    );
  }
}

function sizeMismatch(where: string, actual: number, expected: number): NativeLibraryError {
  return new NativeLibraryError(
    "EBADMSG",
    `${where} has ${actual} bytes, the package records ${expected} ` +
      `(truncated or replaced): refused, not loaded`,
  );
}

/**
 * Reads the file at `path` and checks it against `expected` (a file of
 * another size is refused before its bytes are read). `undefined` when
 * there is no such file; `EACCES` naming `--allow-read` without the
 * permission to read it; `EBADMSG` when its bytes differ.
 */
export function readVerified(path: string, expected: PrebuiltLibrary): Uint8Array | undefined {
  const bytes = withPermission(
    `reading the native library ${path}`,
    () => readExpectedSize(path, expected.size),
    NativeLibraryError,
    path,
  );
  if (bytes !== undefined) verifyBytes(bytes, expected, path);
  return bytes;
}

/** The file's bytes when it has `size` bytes (else `EBADMSG`), `undefined` when it is absent. */
function readExpectedSize(path: string, size: number): Uint8Array | undefined {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw readError(e, path);
  }
  try {
    const actual = file.statSync().size;
    if (actual !== size) throw sizeMismatch(path, actual, size);
    const bytes = new Uint8Array(size);
    let done = 0;
    // Bounded: every pass reads at least one byte or ends.
    while (done < size) {
      const n = file.readSync(bytes.subarray(done));
      if (n === null || n === 0) throw sizeMismatch(path, done, size);
      done += n;
    }
    return bytes;
  } catch (e) {
    throw readError(e, path);
  } finally {
    file.close();
  }
}

function readError(e: unknown, path: string): unknown {
  if (e instanceof Deno.errors.NotCapable || e instanceof NativeLibraryError) return e;
  return new NativeLibraryError("EIO", `cannot read ${path}: ${(e as Error).message}`, {
    cause: e,
  });
}
