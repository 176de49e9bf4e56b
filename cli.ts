// Command line of the project; run through ./luo.
import { parseArgs } from "node:util";
import { Arena } from "./lib/kho.ts";
import { LiveUpdateError } from "./lib/errors.ts";
import { UsageError } from "./cli/errors.ts";
import { runStress } from "./cli/stress.ts";

const USAGE = `usage: ./luo <command> [options]

commands:
  demo      preserve regions, hand over to a separate process, verify there
  stress    stage1|stage2: the kernel's two-stage stress test
  test      run every check (handled by ./luo)
  bench     run the benchmarks (handled by ./luo)

Run ./luo <command> --help for a command's options.`;

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { help: { type: "boolean" }, json: { type: "boolean" } },
  });
  if (values.help) {
    console.log("usage: ./luo demo [--json]");
    return 0;
  }
  const arena = Arena.create({ size: 64 << 20 });
  const sizes = [4096, 1 << 20, 8 << 20];
  const regions = sizes.map((size, r) => {
    const pa = arena.allocPreserve(size);
    arena.bytes(pa, size).fill(r + 1);
    return { pa: pa.toString(), size };
  });
  arena.handover(BigInt(regions[0].pa));
  arena.close();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      "__demo_successor",
      arena.path,
      JSON.stringify(regions),
    ],
  }).output();
  Deno.removeSync(arena.path);
  console.log(new TextDecoder().decode(out.stdout).trim());
  return out.code;
}

function demoSuccessor(path: string, json: string): number {
  const regions = JSON.parse(json) as { pa: string; size: number }[];
  using arena = Arena.open(path);
  let bytes = 0;
  for (const [r, { pa, size }] of regions.entries()) {
    arena.restore(BigInt(pa));
    if (!arena.bytes(BigInt(pa), size).every((b) => b === r + 1)) {
      console.log(`region ${r}: mismatch`);
      return 1;
    }
    bytes += size;
    arena.restoreFree(BigInt(pa));
  }
  arena.handover(0n);
  console.log(
    `successor pid ${Deno.pid}: ${regions.length} regions, ${bytes} bytes verified, pages in use: ${arena.info().allocatedPages}`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case "demo":
      return await demo(rest);
    case "stress": {
      const r = runStress(rest);
      if (!r) return 0;
      if (rest.includes("--json")) console.log(JSON.stringify(r));
      else {
        console.log(
          `${r.stage}: ${r.sessions} sessions, ${r.files} files, ${
            r.seconds.toFixed(2)
          } s, liveupdate-number ${r.liveupdateNumber}` +
            (r.mismatches !== undefined
              ? `, mismatches ${r.mismatches}, pages in use ${r.pagesInUse}`
              : ""),
        );
      }
      return r.mismatches ? 1 : 0;
    }
    case "__demo_successor":
      return demoSuccessor(rest[0], rest[1]);
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return 0;
    default:
      console.error(`luo: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

try {
  Deno.exit(await main(Deno.args));
} catch (e) {
  const debug = Deno.args.includes("--debug");
  if (debug) console.error(e);
  else if (e instanceof UsageError) console.error(`luo: ${e.message}`);
  else if (e instanceof LiveUpdateError) console.error(`luo: ${e.message}`);
  else if (e instanceof Error) console.error(`luo: ${e.name}: ${e.message}`);
  else console.error(`luo: ${String(e)}`);
  Deno.exit(e instanceof UsageError ? 2 : 1);
}
