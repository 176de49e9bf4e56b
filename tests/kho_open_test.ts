// Opening arena files safely: only a regular file that this user owns and
// nobody else may access (unless allowOtherOwner), refused before any call
// that could block, each refusal with its own code and words; read-only
// opens (inspection) accept any regular file the caller can read.
import assert from "node:assert/strict";
import { Arena } from "../lib/kho/arena.ts";
import { LiveUpdate } from "../mod.ts";
import { assertCode } from "../testing/assert_code.ts";
import { childArgs, runChild, works } from "../testing/arena_file_child.ts";
import { asNobody } from "../testing/jsr_user.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const isRoot = Deno.uid() === 0;

/** A complete arena at `path` (mode 0600, owned by this user). */
function makeArena(path: string): void {
  Arena.create({ path, size: 16 * 4096 }).close();
}

Deno.test("open: a symlink, a directory, a FIFO and a device are refused by kind", async () => {
  const t = tempArena();
  try {
    makeArena(t.path);
    Deno.symlinkSync(t.path, `${t.dir}/link.arena`);
    assertCode(() => Arena.open(`${t.dir}/link.arena`), "ELOOP", /is a symlink/);
    Arena.open(`${t.dir}/link.arena`, { readOnly: true }).close();
    Deno.mkdirSync(`${t.dir}/dir.arena`);
    assertCode(() => Arena.open(`${t.dir}/dir.arena`), "EISDIR", /is a directory/);
    assertCode(() => Arena.open(`${t.dir}/dir.arena`, { readOnly: true }), "EISDIR");
    assert.ok(await works(["mkfifo", "-m", "600", `${t.dir}/fifo.arena`]), "mkfifo failed");
    assertCode(() => Arena.open(`${t.dir}/fifo.arena`), "EINVAL", /is a FIFO, not a regular file/);
    assertCode(
      () => Arena.open("/dev/null", { readOnly: true }),
      "EINVAL",
      /is a character device/,
    );
    assertCode(() => Arena.open(`${t.dir}/missing.arena`), "ENOENT", /no such file/);
    assertCode(() => Arena.open(`${t.path}/below`), "ENOTDIR", /not a directory/);
  } finally {
    t.cleanup();
  }
});

Deno.test("open: inspecting a FIFO answers at once with the reason (a separate process)", async () => {
  const t = tempArena();
  try {
    const fifo = `${t.dir}/fifo.arena`;
    assert.ok(await works(["mkfifo", "-m", "600", fifo]), "mkfifo failed");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "inspect", fifo],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // A blocking open of the FIFO would never return: kill it after 20 s.
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.signal, null, "inspect of a FIFO hung");
    assert.equal(out.code, 1);
    assert.match(new TextDecoder().decode(out.stderr), /EINVAL.*is a FIFO/);
  } finally {
    t.cleanup();
  }
});

Deno.test("open: group or other permission bits are EACCES naming the mode; read-only accepts them", () => {
  const t = tempArena();
  try {
    makeArena(t.path);
    Deno.chmodSync(t.path, 0o644);
    assertCode(() => Arena.open(t.path), "EACCES", /mode 0644: group or others have access/);
    Arena.open(t.path, { readOnly: true }).close();
    Deno.chmodSync(t.path, 0o600);
    Arena.open(t.path).close();
  } finally {
    t.cleanup();
  }
});

Deno.test("open and create: a directory others may write without the sticky bit is EACCES naming it and its mode", () => {
  const t = tempArena();
  try {
    makeArena(t.path);
    for (const mode of [0o777, 0o770, 0o702]) {
      Deno.chmodSync(t.dir, mode);
      const words =
        `directory ${t.dir} has mode 0${mode.toString(8)}: group or others may write it ` +
        "and it has no sticky bit, so they could rename or replace the arena file";
      assertCode(() => Arena.open(t.path), "EACCES", new RegExp(words));
      assertCode(() => LiveUpdate.start(t.path, { size: 1 << 20 }), "EACCES", /no sticky bit/);
      assertCode(
        () => Arena.create({ path: `${t.dir}/new.arena`, size: 1 << 20 }),
        "EACCES",
        /no sticky bit/,
      );
      Arena.open(t.path, { readOnly: true }).close(); // inspection still reads it
    }
    for (const mode of [0o1777, 0o755, 0o700]) {
      Deno.chmodSync(t.dir, mode);
      Arena.open(t.path).close();
    }
    assert.deepEqual([...Deno.readDirSync(t.dir)].map((e) => e.name), ["test.arena"]);
  } finally {
    t.cleanup();
  }
});

Deno.test("open: an arena file with a second name (a hard link) is EACCES; inspection reads it", () => {
  const t = tempArena();
  try {
    makeArena(t.path);
    Deno.linkSync(t.path, `${t.dir}/second-name`);
    assertCode(() => Arena.open(t.path), "EACCES", /the file has 2 names \(hard links\)/);
    assertCode(() => Arena.open(`${t.dir}/second-name`), "EACCES", /2 names/);
    Arena.open(t.path, { readOnly: true }).close();
    Deno.removeSync(`${t.dir}/second-name`);
    Arena.open(t.path).close();
  } finally {
    t.cleanup();
  }
});

Deno.test({
  name: "open: a file of another owner is EPERM naming both uids, unless allowOtherOwner",
  ignore: !isRoot,
  fn() {
    const t = tempArena();
    try {
      makeArena(t.path);
      Deno.chownSync(t.path, 65534, 65534);
      assertCode(
        () => Arena.open(t.path),
        "EPERM",
        /owned by uid 65534, this process runs as uid 0/,
      );
      Arena.open(t.path, { allowOtherOwner: true }).close();
      Arena.open(t.path, { readOnly: true }).close();
    } finally {
      t.cleanup();
    }
  },
});

Deno.test({
  name: "open: a user without access gets EACCES 'permission denied', as another user",
  ignore: !isRoot,
  async fn() {
    const nobody = await asNobody(true);
    if (!nobody) return;
    const t = tempArena();
    const denoDir = Deno.makeTempDirSync({ prefix: "luo-deno-nobody-" });
    try {
      makeArena(t.path);
      Deno.chmodSync(t.dir, 0o755);
      Deno.chownSync(denoDir, 65534, 65534);
      const env = { DENO_DIR: denoDir, HOME: denoDir };
      const run = (opts: object) =>
        runChild([...nobody, ...childArgs("open", t.path, JSON.stringify(opts))], env);
      const own = await run({});
      assert.equal(own.outcomes[0]?.code, "EPERM", own.stderr);
      assert.match(own.outcomes[0].message!, /owned by uid 0, this process runs as uid 65534/);
      for (const opts of [{ allowOtherOwner: true }, { readOnly: true }]) {
        const r = await run(opts);
        assert.equal(r.outcomes[0]?.code, "EACCES", r.stderr);
        assert.match(r.outcomes[0].message!, /\(permission denied\): open .*: permission denied/);
        assert.doesNotMatch(r.outcomes[0].message!, /read-only/);
      }
    } finally {
      t.cleanup();
      Deno.removeSync(denoDir, { recursive: true });
    }
  },
});

/** What must not change of a planted file: owner, mode, size, mtime and every byte. */
function fingerprint(path: string) {
  const st = Deno.lstatSync(path);
  const bytes = st.isSymlink ? Deno.readLinkSync(path) : Deno.readFileSync(path);
  return { uid: st.uid, mode: st.mode, size: st.size, mtime: st.mtime?.getTime(), bytes };
}

/** Every way a root service opens its arena, each expected to refuse `path`. */
const SERVICE_OPENS: [string, (path: string) => unknown][] = [
  ["Arena.open", (p) => Arena.open(p)],
  ["LiveUpdate.open", (p) => LiveUpdate.open(p)],
  ["LiveUpdate.start", (p) => LiveUpdate.start(p, { size: 1 << 20 })],
];

Deno.test({
  name:
    "open: an arena or symlink planted by a real uid 65534 process is refused and left as it was",
  ignore: !isRoot,
  async fn() {
    const nobody = await asNobody(true);
    if (!nobody) return;
    const t = tempArena("my-service"); // the service's path, in a dir like /dev/shm
    const own = tempArena("root"); // the service's own arena elsewhere (mode 0700 dir)
    const denoDir = Deno.makeTempDirSync({ prefix: "luo-deno-nobody-" });
    try {
      Deno.chmodSync(t.dir, 0o1777);
      Deno.chownSync(denoDir, 65534, 65534);
      const env = { DENO_DIR: denoDir, HOME: denoDir };
      const runAsNobody = (argv: string[]) => runChild([...nobody, ...argv], env);
      const planted = await runAsNobody(childArgs("create", t.path, String(16 * 4096), "{}"));
      assert.equal(planted.outcomes[0]?.ok, true, planted.stderr);
      makeArena(own.path);
      const link = `${t.dir}/link.arena`;
      const dangling = `${t.dir}/dangling.arena`;
      const target = `${own.dir}/not-yet.arena`;
      for (const [from, to] of [[own.path, link], [target, dangling]]) {
        assert.equal((await runAsNobody(["ln", "-s", from, to])).code, 0, `ln -s ${from} ${to}`);
      }
      const before = [t.path, link, dangling, own.path].map(fingerprint);
      assert.equal(before[0].uid, 65534, "planted by uid 65534");
      assert.equal(before[1].uid, 65534, "the symlink too");
      for (const [what, open] of SERVICE_OPENS) {
        assertCode(
          () => open(t.path),
          "EPERM",
          /owned by uid 65534, this process runs as uid 0/,
          what,
        );
        assertCode(() => open(link), "ELOOP", /is a symlink/, `${what} of the symlink`);
        assertCode(
          () => open(dangling),
          "ELOOP",
          /is a symlink/,
          `${what} of the dangling symlink`,
        );
      }
      assert.deepEqual([t.path, link, dangling, own.path].map(fingerprint), before);
      assert.throws(
        () => Deno.lstatSync(target),
        Deno.errors.NotFound,
        "nothing was created through the dangling symlink",
      );
    } finally {
      t.cleanup();
      own.cleanup();
      Deno.removeSync(denoDir, { recursive: true });
    }
  },
});
