/**
 * Opening a native library file, once. The file must exist (`ENOENT`
 * otherwise) and load on this platform (`ENOEXEC`: wrong platform or not a
 * shared library); its ABI version is read through a first handle bound to
 * `kho_abi_version` only (a library of another ABI may lack the other
 * symbols) and must be this module's (`EPROTO`). The handle with every
 * symbol is opened while the first one is still open, so the system's
 * loader maps the file only once: what was checked is what runs.
 *
 * @module
 */

import { NativeLibraryError } from "../errors.ts";
import { withPermission } from "./permission.ts";
import { statIfPresent } from "./stat.ts";
import { ABI_VERSION, type Native, symbols } from "./symbols.ts";

/** A library file to open and how the messages name it. */
export interface LibraryFile {
  /** Absolute path of the file. */
  path: string;
  /** Where the path came from, e.g. `from LUO_NATIVE_LIB`. */
  origin: string;
  /** What to do when its ABI version is not this module's. */
  remedy: string;
}

/** Opens `file` and returns its symbols (see the module documentation for the checks). */
export function openLibrary(file: LibraryFile): Native {
  checkPresent(file);
  const probe = dlopen(file, { kho_abi_version: symbols.kho_abi_version });
  try {
    const version = probe.symbols.kho_abi_version();
    if (version !== ABI_VERSION) {
      throw new NativeLibraryError(
        "EPROTO",
        `the native library ${file.path} (${file.origin}) has ABI version ${version}, ` +
          `this version of the module needs ABI version ${ABI_VERSION}: ${file.remedy}`,
      );
    }
    return dlopen(file, symbols).symbols;
  } finally {
    probe.close();
  }
}

function checkPresent(file: LibraryFile): void {
  const st = withPermission(
    `looking for the native library ${file.path} (${file.origin})`,
    () => statIfPresent(file.path),
    NativeLibraryError,
    file.path,
  );
  if (st === undefined) {
    throw new NativeLibraryError(
      "ENOENT",
      `the native library ${file.path} (${file.origin}) does not exist`,
    );
  }
  if (!st.isFile) {
    throw new NativeLibraryError(
      "ENOEXEC",
      `the native library ${file.path} (${file.origin}) is not a file`,
    );
  }
}

function dlopen<S extends Deno.ForeignLibraryInterface>(
  file: LibraryFile,
  s: S,
): Deno.DynamicLibrary<S> {
  try {
    return Deno.dlopen(file.path, s);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      throw new NativeLibraryError(
        "EACCES",
        `loading the native library ${file.path} needs --allow-ffi, unscoped (with ` +
          `--allow-ffi=PATH the library loads but the first arena fails: Deno's views of ` +
          `native memory need the unscoped flag)`,
        { cause: e },
      );
    }
    const why = (e as Error).message.replace(/^(Could not open library: )+/, "");
    throw new NativeLibraryError(
      "ENOEXEC",
      `cannot load the native library ${file.path} (${file.origin}) on ` +
        `${Deno.build.os}-${Deno.build.arch} (wrong platform or not a shared library?): ${why}`,
      { cause: e },
    );
  }
}
