// The machinery of ./luo bench --report: its statistics (minimum, spread,
// per file, which sizes a drift compares), the sample table and its
// timeout rule, the options (bad values are usage errors), and the child
// runner (result, failure, garbage, timeout).
import assert from "node:assert/strict";
import { UsageError } from "../cli/errors.ts";
import { ChildRunner } from "../dev/report/children.ts";
import { BenchError } from "../dev/report/errors.ts";
import { parseReportArgs } from "../dev/report/options.ts";
import { SampleTable } from "../dev/report/samples.ts";
import { suiteTable } from "../dev/report/suite.ts";
import { Progress } from "../dev/report/progress.ts";
import { interleaved, recording, type ReportContext } from "../dev/report/section.ts";
import { driftSizes, minOf, perUnit, spreadOf } from "../dev/report/stats.ts";
import { assertCode } from "../testing/assert_code.ts";

const IDS = ["lifecycle", "entries"];

Deno.test("bench report: minimum, spread and per file of samples; bad samples refused", () => {
  assert.equal(minOf([3, 1, 2]), 1);
  assert.ok(Math.abs(spreadOf([100, 110, 105]) - 0.1) < 1e-12);
  assert.equal(spreadOf([7]), 0);
  assert.equal(perUnit(1000, 10), 100);
  for (const bad of [[], [NaN], [-1], [1, Infinity]]) {
    assertCode(() => minOf(bad), "EINVAL");
  }
  for (const units of [0, -1, 1.5, NaN]) assertCode(() => perUnit(1, units), "EINVAL");
});

Deno.test("bench report: a drift compares the largest size with 10k, else with the smallest", () => {
  assert.deepEqual(driftSizes([1000, 10_000, 100_000, 1_000_000]), { from: 10_000, to: 1_000_000 });
  assert.deepEqual(driftSizes([1_000_000, 1000, 10_000]), { from: 10_000, to: 1_000_000 });
  assert.deepEqual(driftSizes([1000, 10_000]), { from: 1000, to: 10_000 });
  assert.deepEqual(driftSizes([100, 1000]), { from: 100, to: 1000 });
  assert.equal(driftSizes([1000]), undefined);
  assert.equal(driftSizes([]), undefined);
});

Deno.test("bench report: a row that timed out is skipped at that size and every larger one", () => {
  const t = new SampleTable();
  t.add("keep", 10, 5);
  t.add("keep", 10, 3);
  assert.equal(t.min("keep", 10), 3);
  assert.equal(t.min("keep", 100), undefined);
  assert.equal(t.missing("keep", 100, 600), "not run");
  t.timeOut("keep", 1000);
  t.timeOut("keep", 100_000);
  assert.equal(t.skips("keep", 100), false);
  assert.equal(t.skips("keep", 1000), true);
  assert.equal(t.skips("keep", 10_000), true);
  assert.equal(t.skips("other", 10_000), false);
  assert.match(t.missing("keep", 10_000, 600), /> 600\.00 s \(timed out\)/);
  for (const bad of [NaN, -1, Infinity]) assertCode(() => t.add("keep", 10, bad), "EINVAL");
  assert.deepEqual(t.stopped("keep"), { size: 1000, why: "timed out" });
  t.fail("keep", 100);
  assert.deepEqual(t.stopped("keep"), { size: 100, why: "failed" });
  assert.equal(t.missing("keep", 100, 600), "failed (see Failures)");
  assert.equal(t.stopped("other"), undefined);
});

Deno.test("bench report: a failed child is recorded and the report goes on; other errors are thrown", async () => {
  const ctx = {
    failures: [] as string[],
    progress: new Progress(true),
  } as unknown as ReportContext;
  const failed = await recording(ctx, "path at 1k", () => {
    throw new BenchError("child.ts keep-finish: exited with 1:\nENOENT: no arena");
  });
  assert.equal(failed, undefined);
  assert.deepEqual(ctx.failures, [
    "path at 1k: child.ts keep-finish: exited with 1:\nENOENT: no arena",
  ]);
  assert.equal(await recording(ctx, "ok", () => Promise.resolve(7)), 7);
  await assert.rejects(
    () => recording(ctx, "bug", () => Promise.reject(new TypeError("a bug"))),
    TypeError,
  );
  assert.equal(ctx.failures.length, 1);
});

Deno.test("bench report: options, defaults and --big sizes; partial runs only print", () => {
  const full = parseReportArgs(["--report"], IDS)!;
  assert.deepEqual(full.files, [1000, 10_000, 100_000]);
  assert.deepEqual(full.sessions, [1000, 10_000]);
  assert.deepEqual(full.mib, [256]);
  assert.equal(full.timeoutS, 600);
  assert.equal(full.repeats, undefined);
  assert.match(full.out!, /bench\/RESULTS\.md$/);
  const big = parseReportArgs(["--big", "--repeats", "2"], IDS)!;
  assert.deepEqual(big.files, [1000, 10_000, 100_000, 1_000_000]);
  assert.deepEqual(big.sessions, [1000, 10_000, 100_000]);
  assert.deepEqual(big.mib, [256, 1024]);
  assert.equal(big.repeats, 2);
  assert.equal(big.commandLine, "./luo bench --report --big --repeats 2");
  const part = parseReportArgs(["--only", "entries", "--files", "500,100,500"], IDS)!;
  assert.equal(part.out, undefined);
  assert.deepEqual(part.only, ["entries"]);
  assert.deepEqual(part.files, [100, 500]);
  assert.equal(parseReportArgs(["--help"], IDS), null);
});

Deno.test("bench report: bad option values are usage errors naming the option", () => {
  const cases: [string[], RegExp][] = [
    [["--repeats", "0"], /--repeats must be an integer in 1\.\.100, got "0"/],
    [["--repeats", "1.5"], /--repeats/],
    [["--repeats", "NaN"], /--repeats/],
    [["--timeout=-1"], /--timeout/],
    [["--timeout", "1e3"], /--timeout/],
    [["--files", "1000,abc"], /--files must be an integer in 1\.\.10000000, got "abc"/],
    [["--files", "20000000"], /--files/],
    [["--files", ""], /--files/],
    [["--sessions", "0"], /--sessions/],
    [["--mib", "99999"], /--mib/],
    [["--files", Array.from({ length: 17 }, (_, i) => i + 1).join(",")], /at most 16 values/],
    [["--only", "lifecycle,nope"], /no section "nope" \(sections: lifecycle, entries\)/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseReportArgs(args, IDS), (e) => {
      assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
      assert.match((e as Error).message, message);
      return true;
    });
  }
  assert.throws(() => parseReportArgs(["--repeats"], IDS), /argument missing|--repeats/);
  assert.throws(() => parseReportArgs(["--nope"], IDS), /Unknown option '--nope'/);
});

/** A directory with child scripts; removed by `cleanup`. */
function scripts(files: Record<string, string>): { root: URL; cleanup: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "luo-test-children-" });
  for (const [name, body] of Object.entries(files)) Deno.writeTextFileSync(`${dir}/${name}`, body);
  return {
    root: new URL(`file://${dir}/`),
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
}

Deno.test("bench report: a child's result is its last line; a failure or garbage is a BenchError", async () => {
  const s = scripts({
    "ok.ts": `console.log("noise"); console.log(JSON.stringify({ ns: 42, args: Deno.args }));`,
    "fail.ts": `console.error("went wrong here"); Deno.exit(3);`,
    "garbage.ts": `console.log("not json");`,
  });
  try {
    const runner = new ChildRunner(s.root, 30_000);
    const ok = await runner.run<{ ns: number; args: string[] }>({ script: "ok.ts", args: ["a"] });
    assert.equal(ok.status, "ok");
    assert.deepEqual(ok.status === "ok" && ok.result, { ns: 42, args: ["a"] });
    await assert.rejects(() => runner.run({ script: "fail.ts", args: [] }), (e) => {
      assert.ok(e instanceof BenchError);
      assert.match(e.message, /fail\.ts : exited with 3:\nwent wrong here/);
      return true;
    });
    await assert.rejects(
      () => runner.run({ script: "garbage.ts", args: [] }),
      /garbage\.ts : its result is not JSON: not json/,
    );
  } finally {
    s.cleanup();
  }
});

Deno.test("bench report: a child past the timeout is killed and reported as timed out", async () => {
  const s = scripts({ "slow.ts": `await new Promise((r) => setTimeout(r, 60_000));` });
  try {
    const runner = new ChildRunner(s.root, 1500);
    const t0 = performance.now();
    const out = await runner.run({ script: "slow.ts", args: [] });
    assert.equal(out.status, "timed out");
    assert.ok(performance.now() - t0 < 30_000, "killed long before it would have ended");
  } finally {
    s.cleanup();
  }
});

Deno.test("bench report: repeats are interleaved across sizes, each size its own count", async () => {
  const seen: string[] = [];
  const ctx = { options: parseReportArgs([], IDS)! } as unknown as ReportContext;
  await interleaved(ctx, [1000, 100_000], (s) => s >= 100_000, async (size, r, of) => {
    await Promise.resolve();
    seen.push(`${size}:${r}/${of}`);
  });
  assert.deepEqual(seen, [
    "1000:1/5",
    "100000:1/3",
    "1000:2/5",
    "100000:2/3",
    "1000:3/5",
    "100000:3/3",
    "1000:4/5",
    "1000:5/5",
  ]);
  const once = { options: parseReportArgs(["--repeats", "1"], IDS)! } as unknown as ReportContext;
  const sizes: number[] = [];
  await interleaved(once, [5, 6], () => true, (size) => Promise.resolve(void sizes.push(size)));
  assert.deepEqual(sizes, [5, 6]);
});

Deno.test("bench report: a suite's table: ratios to its group's baseline, and ÷ N when sizes are named", () => {
  const r = (name: string, min: number, baseline = false) => ({
    group: "g",
    name,
    baseline,
    min,
    avg: 2 * min,
  });
  const sized = suiteTable([r("drop [1000]", 50_000, true), r("drop [4000]", 400_000)]);
  assert.match(sized, /\| drop \[1000\] \| 50\.00 µs \| 100\.00 µs \| 1\.00× \| 50\.0 ns \|/);
  assert.match(sized, /\| drop \[4000\] \| 400\.00 µs \| 800\.00 µs \| 8\.00× \| 100\.0 ns \|/);
  const plain = suiteTable([r("empty call", 5), r("alloc", 50)]);
  assert.doesNotMatch(plain, /÷ N/);
  assert.match(plain, /\| alloc \| 50\.0 ns \| 100\.0 ns \| - \|/);
});
