// What a JSR user does: the files `deno publish --dry-run` lists, served on
// 127.0.0.1, imported by URL from an app in a temp dir outside the
// repository, with a fresh DENO_DIR and HOME, no LUO_NATIVE_LIB and no Zig
// on PATH. Set LUO_JSR_TIMINGS=1 to print the apps' load times. Where the
// download cannot or must not happen: tests/jsr_import_test.ts.
import assert from "node:assert/strict";
import { prebuiltFor } from "../lib/kho/library.ts";
import { type PackageServer, publishedFiles, readPackage } from "../testing/package_server.ts";
import {
  type AppRun,
  assertOk,
  cachedFiles,
  runApp as app,
  runAs as run,
  sandbox,
  serviceFlags,
  USER_PATH as PATH,
  withServedPackage,
} from "../testing/jsr_user.ts";

const BYTES = 4 << 20;
const lib = prebuiltFor();

const files = await publishedFiles();
const pkg = readPackage(files);

/**
 * The flags README "Command line" gives for inspect, convert and stress: these,
 * plus `--allow-write --allow-net=HOST` on a version's first run on a machine
 * (`--allow-import=HOST` only because this server is not jsr.io).
 */
function cliFlags(host: string, firstRun = false): string[] {
  const flags = [`--allow-import=${host}`, "--allow-ffi", "--allow-read", "--allow-env"];
  return [...flags, "--allow-sys=uid", ...firstRun ? ["--allow-write", `--allow-net=${host}`] : []];
}

function libRequests(server: PackageServer): number {
  return server.requests.filter((p) => p === `/${lib.file}`).length;
}

Deno.test("the published files are the package: entry points, every prebuilt library, no build output", () => {
  for (const f of ["mod.ts", "kho.ts", "tools.ts", "cli.ts", "lib/kho/prebuilt.ts", "README.md"]) {
    assert(files.includes(f), `${f} is not published`);
  }
  assert(files.includes(lib.file), `${lib.file} is not published`);
  assert(!files.some((f) => f.startsWith("zig-out/") || f.startsWith(".zig-cache/")));
  assert(!["/usr/bin/zig", "/bin/zig"].some((z) => exists(z)), `zig is on ${PATH}`);
  assert(!files.includes("toolchain.env"), "the repository's tool pins are not the package's");
});

Deno.test("the published Zig sources are the library's, complete: every file kho.zig imports, no test", () => {
  const text = (f: string) => new TextDecoder().decode(pkg.get(f)!);
  const root = /b\.path\("(native\/kho\.zig)"\)/.exec(text("build.zig"))?.[1];
  assert(root !== undefined, "build.zig does not build the library from native/kho.zig");
  // Zig loads every file a source imports, even in a test block: follow them all.
  const needed = [root];
  for (let i = 0; i < needed.length && i < 1000; i++) {
    assert(files.includes(needed[i]), `${needed[i]} is imported but not published`);
    const dir = needed[i].slice(0, needed[i].lastIndexOf("/") + 1);
    for (const m of text(needed[i]).matchAll(/@import\("([^"]+\.zig)"\)/g)) {
      if (!needed.includes(dir + m[1])) needed.push(dir + m[1]);
    }
  }
  assert(needed.length > 20, `only ${needed.length} sources reached from ${root}`);
  const tests = files.filter((f) =>
    /^native\/(.*_test|tests|test_dir|records_fixture)\.zig$/.test(f)
  );
  assert.deepEqual(tests, [], "test sources are published");
});

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

Deno.test("imported by URL: A hands over, B verifies every byte; the library is fetched once, then cached", async () => {
  await withServedPackage(pkg, async (box, server) => {
    const home = box.home();
    const a = await app(box.dir, home, server, ["a", `${box.dir}/one.arena`, String(BYTES)]);
    assertOk(a, "process A");
    assert.equal(libRequests(server), 1);

    const inspect = await run(box.dir, home, cliFlags(server.host), `${server.url}cli.ts`, [
      "inspect",
      `${box.dir}/one.arena`,
    ]);
    assertOk(inspect, "cli.ts inspect");
    assert.match(inspect.stdout, /app: 1 files/);
    assert.match(inspect.stdout, new RegExp(`token 1 +memfd-v2 +${BYTES} bytes`));

    const b = await app(box.dir, home, server, ["b", `${box.dir}/one.arena`, String(BYTES)]);
    assertOk(b, "process B");
    assert.deepEqual([b.json.resumed, b.json.bytes, b.json.bad], [true, BYTES, 0]);
    assert.equal(libRequests(server), 1, "B and the CLI load from the cache");

    const cached = cachedFiles(home);
    assert.equal(cached.length, 1, `cache holds ${cached.join(", ")}`);
    for (let d = cached[0]; d !== `${home}/deno`; d = d.slice(0, d.lastIndexOf("/"))) {
      if (d !== cached[0]) assert.equal(Deno.statSync(d).mode! & 0o777, 0o700, d);
    }
    await server.close();

    // Served nothing now: modules and library come from the caches.
    const a2 = await app(box.dir, home, server.host, ["a", `${box.dir}/two.arena`, String(BYTES)]);
    assertOk(a2, "process A, second run");
    const b2 = await app(box.dir, home, server.host, ["b", `${box.dir}/two.arena`, String(BYTES)]);
    assertOk(b2, "process B, second run");
    assert.equal(b2.json.bad, 0);

    // A cached library changed afterwards is refused too.
    flipByte(cached[0]);
    const bad = await app(box.dir, home, server.host, ["a", `${box.dir}/three.arena`, "4096"]);
    assertRefused(bad, cached[0]);
  });
});

Deno.test("the published CLI runs with the flags README gives: stress, inspect, convert", async () => {
  await withServedPackage(pkg, async (box, server) => {
    const home = box.home();
    const arena = `${box.dir}/cli.arena`;
    const cli = (flags: string[], args: string[]) =>
      run(box.dir, home, flags, `${server.url}cli.ts`, args);
    const shape = ["--arena", arena, "--sessions", "3", "--files", "2", "--quiet"];
    const first = await cli(cliFlags(server.host, true), ["stress", "stage1", ...shape]);
    assertOk(first, "stress stage1, first run");
    assert.equal(libRequests(server), 1);
    await server.close();
    // Later runs: no network, nothing written by Deno.
    const later = cliFlags(server.host);
    const inspect = await cli(later, ["inspect", arena]);
    assertOk(inspect, "inspect");
    assert.match(inspect.stdout, /stress-2: 2 files/);
    assertOk(await cli(later, ["convert", arena]), "convert");
    const stage2 = await cli(later, ["stress", "stage2", ...shape]);
    assertOk(stage2, "stress stage2");
    assert.match(stage2.stdout, /mismatches 0, pages in use 0/);
  });
});

function flipByte(path: string): void {
  Deno.chmodSync(path, 0o600);
  const bytes = Deno.readFileSync(path);
  bytes[bytes.length >> 1] ^= 0x01;
  Deno.writeFileSync(path, bytes);
}

function assertRefused(r: AppRun, where: string): void {
  assert.equal(r.code, 1, `expected a refusal:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.json.error?.name, "NativeLibraryError", r.stdout + r.stderr);
  assert.equal(r.json.error?.code, "EBADMSG");
  assert.match(r.json.error!.message, /refused, not loaded/);
  assert(r.json.error!.message.includes(where), r.json.error!.message);
}

for (
  const [name, damage, words] of [
    [
      "one byte flipped",
      (b: Uint8Array) => b.map((v, i) => i === b.length >> 1 ? v ^ 0x40 : v),
      /has SHA-256 [0-9a-f]{64}, the package records/,
    ],
    ["truncated", (b: Uint8Array) => b.slice(0, b.length - 4096), /has \d+ bytes/],
    ["with bytes appended", (b: Uint8Array) => new Uint8Array([...b, ...b]), /has \d+ bytes/],
  ] as const
) {
  Deno.test(`a served library ${name} is refused with a clear error and not cached`, async () => {
    const damaged = new Map(pkg);
    damaged.set(lib.file, damage(pkg.get(lib.file)!));
    await withServedPackage(damaged, async (box, server) => {
      const home = box.home();
      const r = await app(box.dir, home, server, ["a", `${box.dir}/x.arena`, "4096"]);
      assertRefused(r, `${server.url}${lib.file}`);
      assert.match(r.json.error!.message, words);
      assert.deepEqual(cachedFiles(home), []);
      assert(!exists(`${box.dir}/x.arena`), "nothing was created");
    });
  });
}

Deno.test("a package whose server lacks the library fails with the HTTP status, caching nothing", async () => {
  const incomplete = new Map(pkg);
  incomplete.delete(lib.file);
  await withServedPackage(incomplete, async (box, server) => {
    const home = box.home();
    const r = await app(box.dir, home, server, ["a", `${box.dir}/x.arena`, "4096"]);
    assert.equal(r.json.error?.code, "EIO", r.stdout + r.stderr);
    assert.match(r.json.error!.message, /downloading the native library from .*: HTTP 404/);
    assert.deepEqual(cachedFiles(home), []);
  });
});

Deno.test("a vendored copy (file: URL, no local build) loads its verified prebuilt library", async () => {
  const box = sandbox();
  try {
    const root = `${box.dir}/pkg`;
    for (const [f, bytes] of pkg) {
      const file = `${root}/${f}`;
      Deno.mkdirSync(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      Deno.writeFileSync(file, bytes);
    }
    const flags = serviceFlags("127.0.0.1:1").filter((f) => !/^--allow-(net|import)/.test(f));
    const home = box.home();
    const local = (args: string[]) =>
      run(box.dir, home, flags, "app.ts", [args[0], `file://${root}/`, ...args.slice(1)]);
    assertOk(await local(["a", `${box.dir}/v.arena`, String(BYTES)]), "process A");
    const b = await local(["b", `${box.dir}/v.arena`, String(BYTES)]);
    assertOk(b, "process B");
    assert.equal(b.json.bad, 0);
    assert.deepEqual(cachedFiles(home), [], "nothing downloaded or cached");

    flipByte(`${root}/${lib.file}`);
    assertRefused(await local(["a", `${box.dir}/w.arena`, "4096"]), `${root}/${lib.file}`);
  } finally {
    box.cleanup();
  }
});
