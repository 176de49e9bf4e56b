// The download cache of the native library (lib/kho/library_cache.ts):
// where it is, how a library is stored, and every failure typed with what
// to do, including those met as another user (uid 65534, when the tests
// run as root and setpriv works). Who can change it: trusted_path_test.ts.
import assert from "node:assert/strict";
import { ASKING } from "../lib/kho/access.ts";
import { NativeLibraryError } from "../lib/errors.ts";
import { platformName, prebuiltFor } from "../lib/kho/library.ts";
import { CACHE_NAME, cachedLibrary, denoDir, storeInCache } from "../lib/kho/library_cache.ts";
import { PACKAGE_VERSION } from "../lib/kho/prebuilt.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runDenoWith } from "../testing/child_process.ts";
import { asNobody, NOBODY } from "../testing/jsr_user.ts";

const lib = prebuiltFor();
const platform = platformName();
const BYTES = Deno.readFileSync(new URL(`../${lib.file}`, import.meta.url));
const CHILD = new URL("./children/store_cache.ts", import.meta.url).pathname;
const CACHE_ENV = ["DENO_DIR", "HOME", "XDG_CACHE_HOME"];

/** A temp dir (realpath, mode 0755) removed at the end of the scope. */
function tempDir(): { dir: string; [Symbol.dispose](): void } {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "luo-cache-" }));
  Deno.chmodSync(dir, 0o755);
  return { dir, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

/** Runs `fn` with the cache's environment variables set to `env` (others unset), then restores them. */
function withEnv<T>(env: Record<string, string>, fn: () => T): T {
  const saved = CACHE_ENV.map((n) => [n, Deno.env.get(n)] as const);
  for (const n of CACHE_ENV) Deno.env.delete(n);
  for (const [n, v] of Object.entries(env)) Deno.env.set(n, v);
  try {
    return fn();
  } finally {
    for (const [n, v] of saved) v === undefined ? Deno.env.delete(n) : Deno.env.set(n, v);
  }
}

Deno.test("a stored library is found at its real path; the directories made are 0700, the file 0500", () => {
  using t = tempDir();
  withEnv({ DENO_DIR: `${t.dir}/deno` }, () => {
    assert.equal(cachedLibrary(lib, platform, ASKING), undefined, "nothing cached yet");
    const stored = storeInCache(lib, platform, BYTES, ASKING);
    const dir = `${t.dir}/deno/${CACHE_NAME}/${PACKAGE_VERSION}/${platform}-${
      lib.sha256.slice(0, 16)
    }`;
    assert.equal(stored, `${dir}/${lib.file.slice(lib.file.lastIndexOf("/") + 1)}`);
    assert.equal(cachedLibrary(lib, platform, ASKING), stored);
    assert.equal(Deno.statSync(stored).mode! & 0o777, 0o500);
    for (let d = dir; d !== t.dir; d = d.slice(0, d.lastIndexOf("/"))) {
      assert.equal(Deno.statSync(d).mode! & 0o777, 0o700, d);
    }
    assert.deepEqual(Deno.readFileSync(stored), BYTES);
    // Stored again (a damaged copy replaced): same place, no temporary file left.
    assert.equal(storeInCache(lib, platform, BYTES, ASKING), stored);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [stored.slice(dir.length + 1)]);
  });
  Deno.symlinkSync(`${t.dir}/deno`, `${t.dir}/link`);
  const viaLink = withEnv(
    { DENO_DIR: `${t.dir}/link` },
    () => cachedLibrary(lib, platform, ASKING),
  );
  assert(viaLink?.startsWith(`${t.dir}/deno/`), `loaded by its real path, got ${viaLink}`);
});

Deno.test("a cache directory its group may write is refused; 0755 of this user is fine", () => {
  using t = tempDir();
  withEnv({ DENO_DIR: t.dir }, () => {
    storeInCache(lib, platform, BYTES, ASKING);
    Deno.chmodSync(`${t.dir}/${CACHE_NAME}`, 0o755);
    assert(cachedLibrary(lib, platform, ASKING) !== undefined);
    Deno.chmodSync(`${t.dir}/${CACHE_NAME}`, 0o775);
    for (
      const use of [
        () => cachedLibrary(lib, platform, ASKING),
        () => storeInCache(lib, platform, BYTES, ASKING),
      ]
    ) {
      const e = assertCode(
        use,
        "EPERM",
        /luo-live-update \(owner uid \d+, mode 0775\) is writable by group/,
      );
      assert(e instanceof NativeLibraryError);
      assert.match(e.message, /set DENO_DIR to a directory you own/);
    }
  });
});

Deno.test("a DENO_DIR below a file, or no directory at all, is a typed error saying what to do", () => {
  using t = tempDir();
  Deno.writeTextFileSync(`${t.dir}/file`, "");
  withEnv({ DENO_DIR: `${t.dir}/file/deno` }, () => {
    assertCode(
      () => storeInCache(lib, platform, BYTES, ASKING),
      "ENOTDIR",
      /file is not a directory: set DENO_DIR/,
    );
  });
  withEnv({ XDG_CACHE_HOME: "relative/cache" }, () => {
    assertCode(
      () => denoDir(ASKING),
      "ENOENT",
      /neither DENO_DIR nor HOME is set \(XDG_CACHE_HOME=relative\/cache is ignored: the XDG base directory specification accepts only an absolute path\); set DENO_DIR/,
    );
  });
  withEnv({}, () => assertCode(() => denoDir(ASKING), "ENOENT", /HOME is set; set DENO_DIR/));
  withEnv({ HOME: t.dir, XDG_CACHE_HOME: "rel" }, () => {
    if (Deno.build.os !== "darwin") assert.equal(denoDir(ASKING), `${t.dir}/.cache/deno`);
  });
});

Deno.test("as another user: a read-only cache, or a directory it cannot look into, is typed with what to do", async () => {
  const nobody = await asNobody(true);
  if (nobody === undefined) return;
  using t = tempDir();
  const store = (denoDir: string) =>
    runDenoWith<{ path: string }>({
      flags: ["--allow-read", "--allow-write", "--allow-env", "--allow-sys=uid"],
      script: CHILD,
      args: [],
      env: { PATH: "/usr/bin:/bin", NO_COLOR: "1", DENO_DIR: denoDir },
      wrapper: nobody,
    });
  // Read-only: this user's own directory, mode 0555.
  Deno.mkdirSync(`${t.dir}/ro`, { mode: 0o555 });
  Deno.chownSync(`${t.dir}/ro`, NOBODY, NOBODY);
  const ro = await store(`${t.dir}/ro`);
  assert.equal(ro.json.error?.code, "EACCES", ro.stdout + ro.stderr);
  assert.equal(ro.json.error?.name, "NativeLibraryError");
  assert.match(
    ro.json.error!.message,
    /creating .*ro\/luo-live-update failed: .*; make .*\/ro writable, or set DENO_DIR to a writable directory you own/,
  );
  // root's private directory (0700): nothing in it can be seen.
  Deno.mkdirSync(`${t.dir}/private/deno`, { recursive: true, mode: 0o700 });
  const hidden = await store(`${t.dir}/private/deno`);
  assert.equal(hidden.json.error?.code, "EACCES", hidden.stdout + hidden.stderr);
  assert.match(hidden.json.error!.message, /cannot look into .*\/private \(.*\): set DENO_DIR/);
  // Written by this user to its own directory, the store works.
  Deno.mkdirSync(`${t.dir}/own`);
  Deno.chownSync(`${t.dir}/own`, NOBODY, NOBODY);
  const own = await store(`${t.dir}/own`);
  assert.equal(own.code, 0, own.stdout + own.stderr);
  assert.equal(Deno.statSync(own.json.path!).uid, NOBODY);
});
