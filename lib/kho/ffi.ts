/**
 * Loading the native library (its symbols are declared in `symbols.ts`),
 * and how the library file is found: an explicit path, else the `LUO_NATIVE_LIB` environment variable, else the
 * local build output `zig-out/lib/libkho.so`.
 *
 * @module
 */

import { KhoError } from "../errors.ts";
import { ABI_VERSION, symbols } from "./symbols.ts";

export { ABI_VERSION, symbols };

/** The loaded native library. */
export type Native = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** Environment variable naming the native library file. */
export const LIBRARY_ENV = "LUO_NATIVE_LIB";

/** Where the library is looked for: `explicit`, else `$LUO_NATIVE_LIB`, else the local build. */
export function libraryPath(explicit?: string): string {
  if (explicit) return explicit;
  const fromEnv = Deno.env.get(LIBRARY_ENV);
  if (fromEnv) return fromEnv;
  const local = new URL("../../zig-out/lib/libkho.so", import.meta.url);
  return local.protocol === "file:" ? decodeURIComponent(local.pathname) : local.href;
}

const loaded = new Map<string, Native>();

/** Loads (once per path) the native library and checks its ABI version. */
export function loadNative(explicit?: string): Native {
  const path = libraryPath(explicit);
  const cached = loaded.get(path);
  if (cached) return cached;
  let lib: Deno.DynamicLibrary<typeof symbols>;
  try {
    lib = Deno.dlopen(path, symbols);
  } catch (cause) {
    throw new KhoError(
      "ENOENT",
      `cannot load the native library at ${path}: build it with \`./luo zig build --release\` ` +
        `(or any ./luo command), or point ${LIBRARY_ENV} at a built libkho.so`,
      { cause },
    );
  }
  const version = lib.symbols.kho_abi_version();
  if (version !== ABI_VERSION) {
    lib.close();
    throw new KhoError(
      "EPROTO",
      `native library ${path} has ABI version ${version}, this module needs ${ABI_VERSION}: rebuild it`,
    );
  }
  loaded.set(path, lib.symbols);
  return lib.symbols;
}
