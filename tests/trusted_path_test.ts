// Which paths the loader trusts not to change between a library's check and
// its load (lib/kho/trusted_path.ts): directories and files chmod-ed and
// chown-ed (to uid 65534 when the tests run as root; otherwise another uid
// is claimed for this process) in a temp dir of the tests.
import assert from "node:assert/strict";
import { ASKING } from "../lib/kho/access.ts";
import { type Trust, trustedPath } from "../lib/kho/trusted_path.ts";
import { assertCode } from "../testing/assert_code.ts";

const ME = Deno.uid()!;
const OTHER = 65534;

/** A temp dir (realpath) with `a/b/lib.so` in it, mode 0700/0755/0644. */
function tree() {
  const dir = Deno.realPathSync(Deno.makeTempDirSync({ prefix: "luo-trust-" }));
  Deno.mkdirSync(`${dir}/a/b`, { recursive: true });
  Deno.chmodSync(`${dir}/a`, 0o755);
  Deno.chmodSync(`${dir}/a/b`, 0o755);
  Deno.writeFileSync(`${dir}/a/b/lib.so`, new Uint8Array(8));
  Deno.chmodSync(`${dir}/a/b/lib.so`, 0o644);
  return { dir, [Symbol.dispose]: () => Deno.removeSync(dir, { recursive: true }) };
}

const trust: Trust = { uid: ME, access: ASKING, what: "the test's cache", remedy: "fix it" };

/**
 * Makes `path` look owned by another user: chown when running as root, else
 * the check is told this process runs as another uid (which also makes
 * everything else of this user foreign: only the first finding is asserted).
 */
function foreign(path: string): Trust {
  if (ME !== 0) return { ...trust, uid: ME + 1 };
  Deno.chownSync(path, OTHER, OTHER);
  return trust;
}

Deno.test("a private chain under the tests' temp dir is trusted; the file's real path is returned", () => {
  using t = tree();
  assert.deepEqual(trustedPath(`${t.dir}/a/b/lib.so`, "file", trust), {
    real: `${t.dir}/a/b/lib.so`,
    missing: [],
  });
  Deno.symlinkSync(`${t.dir}/a/b`, `${t.dir}/link`);
  assert.equal(trustedPath(`${t.dir}/link/lib.so`, "file", trust).real, `${t.dir}/a/b/lib.so`);
});

Deno.test("what does not exist yet is listed below the deepest existing directory", () => {
  using t = tree();
  assert.deepEqual(trustedPath(`${t.dir}/a/b/c/d/lib.so`, "file", trust), {
    real: `${t.dir}/a/b`,
    missing: ["c", "d", "lib.so"],
  });
  assertCode(
    () => trustedPath(`${t.dir}/a/x/../lib.so`, "file", trust),
    "EINVAL",
    /"\.\." in a part that does not exist/,
  );
});

Deno.test("a world-writable directory that is not sticky is refused, naming it, its owner and mode", () => {
  using t = tree();
  Deno.chmodSync(`${t.dir}/a`, 0o777);
  const e = assertCode(
    () => trustedPath(`${t.dir}/a/b/lib.so`, "file", trust),
    "EPERM",
    new RegExp(
      `${t.dir}/a \\(owner uid ${ME}, mode 0777\\) is writable by group or others and not sticky`,
    ),
  );
  assert.match(e.message, /another user could replace the library .*; fix it$/);
  Deno.chmodSync(`${t.dir}/a`, 0o775);
  assertCode(() => trustedPath(`${t.dir}/a/b/lib.so`, "file", trust), "EPERM", /mode 0775/);
  // Missing parts below do not help: the existing part is checked.
  assertCode(() => trustedPath(`${t.dir}/a/new/lib.so`, "file", trust), "EPERM", /mode 0775/);
});

Deno.test("a sticky world-writable directory (like /tmp) is accepted", () => {
  using t = tree();
  Deno.chmodSync(`${t.dir}/a`, 0o1777);
  assert.equal(trustedPath(`${t.dir}/a/b/lib.so`, "file", trust).real, `${t.dir}/a/b/lib.so`);
  const tmp = Deno.lstatSync("/tmp");
  if ((tmp.mode! & 0o1000) !== 0) {
    assert.equal(trustedPath("/tmp", "directory", trust).real, "/tmp");
  }
});

Deno.test("a directory or file of another user is refused; root's are trusted", () => {
  using t = tree();
  const other = foreign(`${t.dir}/a/b`);
  assertCode(
    () => trustedPath(`${t.dir}/a/b/lib.so`, "file", other),
    "EPERM",
    /is owned by another user \(this process runs as uid \d+\)/,
  );
  using u = tree();
  const file = foreign(`${u.dir}/a/b/lib.so`);
  if (ME === 0) {
    assertCode(
      () => trustedPath(`${u.dir}/a/b/lib.so`, "file", file),
      "EPERM",
      new RegExp(`${u.dir}/a/b/lib.so \\(owner uid ${OTHER}, mode 0644\\) is owned by another`),
    );
  }
  // "/" and /usr are root's: trusted whoever runs.
  assert.equal(trustedPath("/usr", "directory", { ...trust, uid: ME + 1 }).real, "/usr");
});

Deno.test("a file writable by group or others, or that is not a regular file, is refused", () => {
  using t = tree();
  Deno.chmodSync(`${t.dir}/a/b/lib.so`, 0o646);
  assertCode(
    () => trustedPath(`${t.dir}/a/b/lib.so`, "file", trust),
    "EPERM",
    /lib\.so \(owner uid \d+, mode 0646\) is writable by group or others/,
  );
  assertCode(() => trustedPath(`${t.dir}/a/b`, "file", trust), "EPERM", /is not a regular file/);
  assertCode(
    () => trustedPath(`${t.dir}/a/b/lib.so/x`, "file", trust),
    "ENOTDIR",
    /lib\.so is not a directory: fix it/,
  );
});
