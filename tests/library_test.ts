// Finding, verifying and loading the native library: the errors a user meets
// (platform, checksum, ABI version, each missing permission) and the
// download cache's rules. The package imported over HTTP is tests/jsr_test.ts.
import assert from "node:assert/strict";
import { ABI_VERSION } from "../lib/kho/symbols.ts";
import { NativeLibraryError } from "../lib/errors.ts";
import { verifyBytes } from "../lib/kho/checksum.ts";
import { readVerified } from "../lib/kho/checksum.ts";
import {
  LIBRARY_ENV,
  loadNative,
  platformName,
  prebuiltFor,
  prepareNativeLibrary,
} from "../lib/kho/library.ts";
import { PREBUILT } from "../lib/kho/prebuilt.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runDenoWith } from "../testing/child_process.ts";

const ROOT = new URL("../", import.meta.url);
const path = (rel: string) => decodeURIComponent(new URL(rel, ROOT).pathname);
const CHILD = path("tests/children/load_library.ts");
const LOCAL_BUILD = path(`zig-out/lib/libkho.${Deno.build.os === "darwin" ? "dylib" : "so"}`);
const SERVICE_FLAGS = ["--allow-ffi", "--allow-read", "--allow-write", "--allow-env"];

function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = Deno.makeTempDirSync({ prefix: "luo-lib-" });
  return { dir, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

/** Runs tests/children/load_library.ts with `flags` and only `env` (plus PATH, DENO_DIR). */
function child(flags: string[], args: string[], env: Record<string, string> = {}, cwd?: string) {
  const base: Record<string, string> = { PATH: "/usr/bin:/bin", NO_COLOR: "1" };
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) base.DENO_DIR = denoDir;
  return runDenoWith<{ path: string }>({
    flags,
    script: CHILD,
    args,
    env: { ...base, ...env },
    cwd,
  });
}

Deno.test("an unsupported platform is named together with the supported ones", () => {
  const e = assertCode(() => prebuiltFor("windows-x86_64"), "ENOTSUP", /windows-x86_64/);
  assert(e instanceof NativeLibraryError);
  for (const p of Object.keys(PREBUILT)) assert(e.message.includes(p), `${p} not named`);
  assert.match(e.message, new RegExp(LIBRARY_ENV));
  assert.equal(prebuiltFor(platformName()), PREBUILT[platformName()]);
  assert.equal(platformName("linux", "aarch64"), "linux-aarch64");
});

Deno.test("every committed prebuilt library has the size and SHA-256 recorded for it", () => {
  for (const [platform, lib] of Object.entries(PREBUILT)) {
    assert.equal(readVerified(path(lib.file), lib)?.length, lib.size, platform);
  }
  assert.equal(
    readVerified(path("native/prebuilt/none/libkho.so"), PREBUILT["linux-x86_64"]),
    undefined,
  );
});

Deno.test("a truncated, longer or altered library is refused before it is loaded", () => {
  const lib = prebuiltFor();
  const good = Deno.readFileSync(path(lib.file));
  verifyBytes(good, lib, "good");
  assertCode(
    () => verifyBytes(good.subarray(1), lib, "short"),
    "EBADMSG",
    /short has \d+ bytes.*refused/,
  );
  const longer = new Uint8Array(good.length + 1);
  longer.set(good);
  assertCode(() => verifyBytes(longer, lib, "long"), "EBADMSG", /long has \d+ bytes/);
  const altered = good.slice();
  altered[12345] ^= 0x80;
  assertCode(
    () => verifyBytes(altered, lib, "altered"),
    "EBADMSG",
    /altered has SHA-256 [0-9a-f]{64}.*refused/,
  );
  using t = tempDir();
  Deno.writeFileSync(`${t.dir}/libkho.so`, altered);
  assertCode(() => readVerified(`${t.dir}/libkho.so`, lib), "EBADMSG", /SHA-256/);
  Deno.writeFileSync(`${t.dir}/libkho.so`, good.subarray(0, 100));
  assertCode(() => readVerified(`${t.dir}/libkho.so`, lib), "EBADMSG", /has 100 bytes/);
});

Deno.test("an explicit library that is missing, no library or no path is refused saying which", () => {
  assertCode(
    () => loadNative("/nonexistent/libkho.so"),
    "ENOENT",
    /the native library \/nonexistent\/libkho.so \(the library option\) does not exist/,
  );
  using t = tempDir();
  Deno.writeTextFileSync(`${t.dir}/libkho.so`, "not a library");
  const e = assertCode(
    () => loadNative(`${t.dir}/libkho.so`),
    "ENOEXEC",
    /cannot load the native library .*libkho.so \(the library option\) on \S+ \(wrong platform or not a shared library\?\): /,
  );
  assert.doesNotMatch(e.message, /Could not open library: Could not open library/);
  assertCode(() => loadNative(t.dir), "ENOEXEC", /\(the library option\) is not a file/);
  assertCode(() => loadNative(""), "EINVAL", /non-empty path, got ""/);
  assertCode(() => loadNative(42 as unknown as string), "EINVAL", /got number/);
});

Deno.test("another platform's library (it exists) is ENOEXEC naming the platform, not ENOENT", async () => {
  const other = Object.entries(PREBUILT).find(([p]) => p !== platformName());
  assert(other !== undefined, "the package has one platform only");
  const file = path(other[1].file);
  assertCode(() => loadNative(file), "ENOEXEC", /wrong platform or not a shared library\?/);
  const r = await child(SERVICE_FLAGS, ["path", "/nonexistent/x.arena"], { [LIBRARY_ENV]: file });
  assert.equal(r.json.error?.code, "ENOEXEC", r.stdout + r.stderr);
  assert.match(r.json.error!.message, /\(from LUO_NATIVE_LIB\) on \S+ \(wrong platform/);
});

Deno.test("a bare name or relative path in LUO_NATIVE_LIB is a file in the working directory", async () => {
  using t = tempDir();
  Deno.copyFileSync(LOCAL_BUILD, `${t.dir}/libkho.so`);
  Deno.mkdirSync(`${t.dir}/sub`);
  for (const name of ["libkho.so", "./libkho.so", "sub/../libkho.so"]) {
    const r = await child(
      SERVICE_FLAGS,
      ["path", `${t.dir}/a.arena`],
      { [LIBRARY_ENV]: name },
      t.dir,
    );
    assert.equal(r.code, 0, `${name}: ${r.stdout}${r.stderr}`);
    Deno.removeSync(`${t.dir}/a.arena`);
  }
  // Not searched for on the system's library path: only the working directory counts.
  const r = await child(
    SERVICE_FLAGS,
    ["path", `${t.dir}/b.arena`],
    { [LIBRARY_ENV]: "libc.so.6" },
    t.dir,
  );
  assert.equal(r.json.error?.code, "ENOENT", r.stdout + r.stderr);
  assert.match(
    r.json.error!.message,
    new RegExp(`${t.dir}/libc.so.6 \\(from LUO_NATIVE_LIB\\) does not exist`),
  );
});

Deno.test({
  name: "a library of another ABI version is refused naming both versions",
  ignore: !Deno.env.get("ZIG"),
  async fn() {
    using t = tempDir();
    Deno.writeTextFileSync(
      `${t.dir}/abi.zig`,
      "export fn kho_abi_version() u32 {\n    return 999;\n}\n",
    );
    const out = await new Deno.Command(Deno.env.get("ZIG")!, {
      args: [
        ...["build-lib", "-dynamic", "-OReleaseSmall", "abi.zig", "--cache-dir", `${t.dir}/cache`],
        ...["--global-cache-dir", path(".tools/zig-global-cache")],
      ],
      cwd: t.dir,
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lib = `${t.dir}/libabi.${Deno.build.os === "darwin" ? "dylib" : "so"}`;
    assertCode(
      () => loadNative(lib),
      "EPROTO",
      new RegExp(
        `has ABI version 999, this version of the module needs ABI version ${ABI_VERSION}`,
      ),
    );
  },
});

Deno.test("each missing permission is named by its flag", async () => {
  using t = tempDir();
  const ok = await child(SERVICE_FLAGS, ["path", `${t.dir}/a.arena`]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.equal(ok.json.path, `${t.dir}/a.arena`);
  for (
    const [missing, words] of [
      [
        "--allow-ffi",
        /loading the native library .* needs --allow-ffi, unscoped \(with --allow-ffi=PATH the library loads but the first arena fails/,
      ],
      ["--allow-read", /looking for the local build .* needs --allow-read/],
      [
        "--allow-env",
        /reading \$LUO_NATIVE_LIB .* needs --allow-env \(or --allow-env=LUO_NATIVE_LIB\)/,
      ],
    ] as const
  ) {
    const r = await child(SERVICE_FLAGS.filter((f) => f !== missing), ["path", `${t.dir}/b.arena`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.json.error?.name, "NativeLibraryError");
    assert.equal(r.json.error?.code, "EACCES");
    assert.match(r.json.error!.message, words);
    assert.doesNotMatch(r.json.error!.message, /--allow-ffi=\//, "no advice that does not work");
  }
});

Deno.test("a temporary arena says which flag its directory needs, or goes to $LUO_ARENA_DIR", async () => {
  const shm = await child(SERVICE_FLAGS, ["temp"]);
  assert.equal(shm.json.error?.code, "EACCES", shm.stdout + shm.stderr);
  assert.match(
    shm.json.error!.message,
    /looking for \/dev\/shm .*LUO_ARENA_DIR.* needs --allow-all/,
  );
  // Only the library may be read (checking that it exists needs that much).
  const noRead = await child(["--allow-ffi", "--allow-env", `--allow-read=${LOCAL_BUILD}`], [
    "temp",
  ], {
    [LIBRARY_ENV]: LOCAL_BUILD,
  });
  assert.match(
    noRead.json.error?.message ?? noRead.stderr,
    /looking for \/dev\/shm .* needs --allow-read/,
  );
  using t = tempDir();
  const ok = await child(SERVICE_FLAGS, ["temp"], { LUO_ARENA_DIR: t.dir });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert(ok.json.path?.startsWith(`${t.dir}/`), ok.json.path);
  assert.deepEqual([...Deno.readDirSync(t.dir)], [], "the temporary arena is removed at close");
});

Deno.test("prepareNativeLibrary downloads nothing for a local module", async () => {
  using t = tempDir();
  const saved = Deno.env.get("DENO_DIR");
  Deno.env.set("DENO_DIR", t.dir);
  try {
    await prepareNativeLibrary();
  } finally {
    if (saved === undefined) Deno.env.delete("DENO_DIR");
    else Deno.env.set("DENO_DIR", saved);
  }
  assert.deepEqual([...Deno.readDirSync(t.dir)], []);
});
