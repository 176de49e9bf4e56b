// Importing the package by URL as a JSR user does (see tests/jsr_test.ts),
// where the download of the native library cannot or must not happen: a
// server that never answers, permissions not granted (nothing may prompt),
// a download cache another user could change.
import assert from "node:assert/strict";
import { prebuiltFor } from "../lib/kho/library.ts";
import { TIMEOUT_ENV } from "../lib/kho/download.ts";
import { publishedFiles, readPackage } from "../testing/package_server.ts";
import { works } from "../testing/arena_file_child.ts";
import {
  asNobody,
  assertOk,
  cachedFiles,
  NOBODY,
  runApp,
  runAs,
  type Sandbox,
  serviceFlags,
  userEnv,
  withServedPackage,
} from "../testing/jsr_user.ts";

const lib = prebuiltFor();
const pkg = readPackage(await publishedFiles());
const SMALL = "65536";
/** A hang fails the test instead of stalling the run. */
const DEADLINE_MS = 60_000;

/** A copy of this platform's library in the sandbox, for the `library` option. */
function libraryCopy(box: Sandbox): string {
  const path = `${box.dir}/libkho-copy.so`;
  Deno.writeFileSync(path, pkg.get(lib.file)!, { mode: 0o644 });
  return path;
}

Deno.test("a download server that never answers: the import ends at the timeout, `library` works, first use says why", async () => {
  await withServedPackage(pkg, async (box, server) => {
    const home = box.home();
    const more = { env: userEnv(home, { [TIMEOUT_ENV]: "1500" }), deadlineMs: DEADLINE_MS };
    const withLib = await runApp(box.dir, home, server, [
      "a",
      `${box.dir}/lib.arena`,
      SMALL,
      libraryCopy(box),
    ], more);
    assertOk(withLib, "the app with its own library");
    const without = await runApp(box.dir, home, server, ["a", `${box.dir}/x.arena`, SMALL], more);
    assert.equal(without.json.error?.code, "EIO", without.stdout + without.stderr);
    assert.match(
      without.json.error!.message,
      /not downloaded while the module was imported: downloading .* no complete answer within 1500 ms \(LUO_DOWNLOAD_TIMEOUT_MS/,
    );
    assert.equal(server.requests.filter((p) => p === `/${lib.file}`).length, 2);
    assert.deepEqual(cachedFiles(home), []);
  }, new Set([lib.file]));
});

Deno.test("an out-of-range download timeout is a typed error at first use; `library` still works", async () => {
  await withServedPackage(pkg, async (box, server) => {
    const home = box.home();
    for (const bad of ["0", "-5", "1.5", "NaN", "600001", "9".repeat(30)]) {
      const more = { env: userEnv(home, { [TIMEOUT_ENV]: bad }), deadlineMs: DEADLINE_MS };
      const r = await runApp(box.dir, home, server, ["a", `${box.dir}/x.arena`, SMALL], more);
      assert.equal(r.json.error?.code, "EINVAL", r.stdout + r.stderr);
      assert(r.json.error!.message.includes(`got "${bad}"`), r.json.error!.message);
    }
    const more = { env: userEnv(home, { [TIMEOUT_ENV]: "0" }), deadlineMs: DEADLINE_MS };
    const arena = `${box.dir}/lib.arena`;
    assertOk(await runApp(box.dir, home, server, ["a", arena, SMALL, libraryCopy(box)], more), "");
  });
});

Deno.test("the import asks for nothing: in a terminal, without --allow-net/env/write/sys, `library` works", async () => {
  if (!(await works(["script", "--version"])) || !(await works(["timeout", "--version"]))) {
    console.log("skipped: script(1) or timeout(1) is missing here");
    return;
  }
  await withServedPackage(pkg, async (box, server) => {
    const home = box.home();
    const flags = [`--allow-import=${server.host}`, "--allow-read", "--allow-ffi"];
    const app = [`${server.url}`, `${box.dir}/t.arena`, SMALL, libraryCopy(box)];
    const command = ["timeout", "-s", "KILL", "30", Deno.execPath(), "run", ...flags, "app.ts"]
      .concat("a", app).map((a) => `'${a}'`).join(" ");
    // script(1) gives the app a terminal: a permission prompt would wait there until killed.
    const r = await new Deno.Command("script", {
      args: ["-qec", command, "/dev/null"],
      cwd: box.dir,
      clearEnv: true,
      env: userEnv(home),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    assert.doesNotMatch(out, /Deno requests|Allow\?/, out);
    assert.equal(r.code, 0, out);
    assert.match(out, /"mode":"a"/);
    assert.deepEqual(cachedFiles(home), [], "nothing was downloaded without --allow-net");
  });
});

Deno.test("a first run names each flag the download needs, and nothing is cached", async () => {
  await withServedPackage(pkg, async (box, server) => {
    for (
      const [missing, words] of [
        ["--allow-net", `needs --allow-net=${server.host}`],
        ["--allow-write", "needs --allow-write"],
        ["--allow-sys", "needs --allow-sys (or --allow-sys=uid)"],
      ]
    ) {
      const home = box.home();
      const flags = serviceFlags(server.host).filter((f) => !f.startsWith(missing));
      const args = ["a", server.url, `${box.dir}/x.arena`, SMALL];
      const r = await runAs(box.dir, home, flags, "app.ts", args, { deadlineMs: DEADLINE_MS });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.equal(r.json.error?.code, "EACCES", r.stdout);
      assert(r.json.error!.message.includes(words), `${missing}: ${r.json.error!.message}`);
      assert.deepEqual(cachedFiles(home), []);
    }
  });
});

Deno.test("a download cache another user filled is refused, naming the directory, its owner and mode", async () => {
  const nobody = await asNobody();
  if (nobody === undefined) return;
  await withServedPackage(pkg, async (box, server) => {
    // A DENO_DIR that user 65534 owns (0755), and arenas anyone may create.
    const shared = box.home();
    Deno.chownSync(shared, NOBODY, NOBODY);
    const arenas = `${box.dir}/arenas`;
    Deno.mkdirSync(arenas);
    Deno.chmodSync(arenas, 0o1777);
    const first = await runApp(box.dir, shared, server, ["a", `${arenas}/b.arena`, SMALL], {
      wrapper: nobody,
      deadlineMs: DEADLINE_MS,
    });
    assertOk(first, `the run as uid ${NOBODY}`);
    assert.equal(cachedFiles(shared).length, 1);

    const root = await runApp(box.dir, shared, server, ["a", `${arenas}/root.arena`, SMALL]);
    assert.equal(root.json.error?.code, "EPERM", root.stdout + root.stderr);
    assert.equal(root.json.error?.name, "NativeLibraryError");
    assert.match(
      root.json.error!.message,
      new RegExp(
        `${shared} \\(owner uid ${NOBODY}, mode 0755\\) is owned by another user .*` +
          `set DENO_DIR to a directory you own`,
      ),
    );
    assert.throws(() => Deno.statSync(`${arenas}/root.arena`), Deno.errors.NotFound);
  });
});
