// Every command of the command line, run as a subprocess, with its error cases.
import assert from "node:assert/strict";
import {
  runDeno,
  runDenoWith,
  runOk,
  stressStage1,
  stressStage2,
} from "../testing/child_process.ts";
import { DEFAULT_PROG } from "../cli/program.ts";
import { tempArena } from "../testing/temp_arena.ts";
import { PHYS_BASE } from "../lib/kho/arena.ts";

const CLI = new URL("../cli.ts", import.meta.url);
const DEV_CLI = new URL("../dev/cli.ts", import.meta.url);

const HELPS = [[], ["--help"], ["demo", "--help"], ["inspect", "--help"], ["stress", "--help"], [
  "convert",
  "--help",
]];

Deno.test("cli: --help on every command names the program as JSR users run it, never ./luo", async () => {
  for (const cmd of HELPS) {
    const r = await runOk(CLI, cmd);
    const name = cmd.length < 2 ? "<command>" : cmd[0];
    assert(r.stdout.startsWith(`usage: ${DEFAULT_PROG} ${name}`), r.stdout);
    assert.doesNotMatch(r.stdout, /\.\/luo (demo|inspect|stress|convert)\b/, cmd.join(" "));
  }
  for (const cmd of [["--help"], ["fuzz", "--help"], ["example", "--help"]]) {
    const r = await runOk(DEV_CLI, cmd);
    assert.match(r.stdout, /usage: \.\/luo/, cmd.join(" "));
  }
});

Deno.test("cli: $LUO_PROG names the program (./luo sets it), read only when granted", async () => {
  const run = (flags: string[]) =>
    runDenoWith({
      flags,
      script: CLI.pathname,
      args: ["stress", "--help"],
      env: { PATH: "/usr/bin:/bin", LUO_PROG: "./luo", DENO_DIR: Deno.env.get("DENO_DIR") ?? "" },
    });
  const named = await run(["--allow-env", "--allow-read"]);
  assert.match(named.stdout, /^usage: \.\/luo stress stage1\|stage2/, named.stderr);
  // Without --allow-env, nothing prompts: the default name.
  const plain = await run(["--allow-read", "--no-prompt"]);
  assert(plain.stdout.startsWith(`usage: ${DEFAULT_PROG} stress`), plain.stdout + plain.stderr);
});

// In the test arena dir ($LUO_ARENA_DIR: under /dev/shm in `./luo test`, whose leftover check sees it).
Deno.test("cli: inspect, convert and stress run with the documented flags on an arena in the arena dir", async () => {
  const t = tempArena("s");
  try {
    const env = { PATH: "/usr/bin:/bin", DENO_DIR: Deno.env.get("DENO_DIR") ?? "" };
    const flags = ["--allow-ffi", "--allow-read", "--allow-env", "--allow-sys=uid", "--no-prompt"];
    const run = (args: string[]) => runDenoWith({ flags, script: CLI.pathname, args, env });
    const arena = t.path;
    const stress = (
      stage: string,
    ) => ["stress", stage, "--arena", arena, "--sessions", "2", "--files", "50"];
    for (
      const args of [
        stress("stage1"),
        ["inspect", arena],
        ["inspect", "--json", arena],
        ["convert", arena],
        stress("stage2"),
      ]
    ) {
      const r = await run(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("cli: demo hands over to a separate process and reports zero mismatches and leaks", async () => {
  const t = tempArena();
  try {
    const r = await runOk(CLI, ["demo", "--json", "--keep", "--arena", t.path]);
    const out = JSON.parse(r.stdout);
    assert.equal(out.sessions, 4);
    assert.equal(out.files, 8);
    assert.ok(out.bytesHandedOver >= 64 << 20);
    assert.equal(out.bytesVerified, out.bytesHandedOver);
    assert.equal(out.mismatches, 0);
    assert.equal(out.pagesLeaked, 0);
    assert.equal(out.liveupdateNumber, "1");
    assert.notEqual(out.predecessorPid, undefined);

    // inspect the kept arena: the successor handed the same files over again.
    const j = JSON.parse((await runOk(CLI, ["inspect", t.path, "--json"])).stdout);
    assert.equal(j.liveupdateNumber, "2");
    assert.deepEqual(j.sessions.map((s: { name: string }) => s.name), [
      "cache",
      "sessions",
      "index",
      "empty",
    ]);
    assert.equal(j.sessions[0].files[0].fields.size, 64 << 20);
    assert.equal(j.sessions[0].files[0].compatible, "memfd-v2");
    assert.deepEqual(j.sessions[1].fileBlocks, [4]);
    assert.deepEqual(j.unclaimed, []);
    assert.match(j.khoFdt, /compatible = "kho-v1"/);
    const tree = (await runOk(CLI, ["inspect", t.path])).stdout;
    assert.match(tree, /cache: 3 files, file chain: 1 block \[3\]/);
    assert.match(
      tree,
      /token 0\s+memfd-v2\s+67108864 bytes, position 33554432, seals none, 1 extent/,
    );
    assert.match(tree, /unclaimed regions \(0\)/);
  } finally {
    t.cleanup();
  }
});

Deno.test("cli: errors are one line with a non-zero exit; a stack only with --debug", async () => {
  const t = tempArena();
  try {
    Deno.writeTextFileSync(`${t.dir}/text.arena`, "not an arena, just text\n".repeat(200));
    const cases: [string[], number, RegExp][] = [
      [
        ["inspect", `${t.dir}/missing.arena`],
        1,
        /^luo: ENOENT: open arena .*missing\.arena failed \(no such file/,
      ],
      [
        ["inspect", `${t.dir}/text.arena`],
        1,
        /^luo: ENOEXEC: open arena .*text\.arena failed \(not an arena file/,
      ],
      [["inspect"], 2, /^luo: inspect: give exactly one ARENA path\n$/],
      [["inspect", "a", "--bogus"], 2, /^luo: Unknown option '--bogus'/],
      [["nope"], 2, /^luo: unknown command "nope"/],
      [
        ["stress", "stage1", "--arena", t.path, "--sessions", "abc"],
        2,
        /^luo: --sessions must be an integer >= 0, got "abc"\n$/,
      ],
      [
        ["stress", "stage1", "--arena", t.path, "--sessions", "-1"],
        2,
        /^luo: --sessions must be an integer >= 0, got "-1"\n$/,
      ],
      [
        ["stress", "stage1", "--arena", t.path, "--files=-2.5"],
        2,
        /^luo: --files must be an integer >= 0, got "-2\.5"\n$/,
      ],
      [["stress", "stage3", "--arena", t.path], 2, /stage must be stage1 or stage2/],
      [["__demo_successor"], 2, /^luo: __demo_successor ARENA \[keep\]: .*; run demo\n$/],
      [["__demo_successor", t.path, "bogus"], 2, /^luo: __demo_successor ARENA \[keep\]/],
      [["stress", "stage1"], 2, /--arena PATH is required/],
      [["stress", "stage2", "--arena", `${t.dir}/missing.arena`], 1, /^luo: ENOENT: open arena/],
      [["demo", "--arena", `${t.dir}/text.arena`], 2, /already exists/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await runDeno(CLI, args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern, args.join(" "));
      assert.doesNotMatch(r.stderr, / {4}at /, `no stack trace: ${args.join(" ")}`);
    }
    const dbg = await runDeno(CLI, ["inspect", `${t.dir}/missing.arena`, "--debug"]);
    assert.equal(dbg.code, 1);
    assert.match(dbg.stderr, / {4}at /);
  } finally {
    t.cleanup();
  }
});

Deno.test("cli: inspect of a damaged arena prints what it could read and the typed error", async () => {
  const t = tempArena();
  try {
    await stressStage1(t.path, 3, 2);
    const j = JSON.parse((await runOk(CLI, ["inspect", t.path, "--json"])).stdout);
    assert.equal(j.sessions.length, 3);
    // Zero the count of the session block: the chain is now invalid.
    const luoFdt = j.regions.find((r: { what?: string }) => r.what === "session block").pa;
    const off = Number(BigInt(luoFdt) - PHYS_BASE) + 8;
    const f = Deno.openSync(t.path, { write: true });
    f.seekSync(off, Deno.SeekMode.Start);
    f.writeSync(new Uint8Array(8));
    f.close();
    const r = await runDeno(CLI, ["inspect", t.path]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /header: KHOARENA v1/);
    assert.match(r.stdout, /handed-over regions/);
    assert.match(
      r.stdout,
      /error: EBADMSG: session chain: block 0 has count 0, want 1\.\.102 \(at 0x[0-9a-f]+\)/,
    );
    assert.match(r.stderr, /^luo: inspect: EBADMSG: session chain/);
    // The damaged arena can still be opened for writing and its pages released.
    const s2 = await stressStage2(t.path, 3, 2);
    assert.equal(s2.code, 1);
    assert.match(
      s2.stderr,
      /^luo: EIO: incoming state of .* could not be restored: EBADMSG: session chain/,
    );
  } finally {
    t.cleanup();
  }
});
