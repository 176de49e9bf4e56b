/**
 * `./luo example cache-server`: the zero-downtime upgrade scenario of
 * examples/cache-server, with a report.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runScenario } from "../examples/cache-server/scenario.ts";
import { positiveInt, UsageError } from "../cli/errors.ts";
import { table } from "../cli/table.ts";

export const EXAMPLE_HELP =
  `usage: ./luo example cache-server [--keys N] [--value-size B] [--upgrades U]
                                [--concurrency C] [--mode luo|snapshot] [--json]

Starts the cache server (examples/cache-server), preloads N keys of B bytes,
sends a steady stream of requests from this process while the server
upgrades itself U times in a row (generation 1 -> 2 -> ...), then checks
every request and reads keys back. --mode snapshot runs the same server
restarted the usual way (state written to a file and read back) for
comparison. Exits 1 on any failed request or wrong value.

  --keys N         preloaded keys (default 10000)
  --value-size B   bytes per value (default 256)
  --upgrades U     upgrades in a row (default 3)
  --concurrency C  concurrent client connections (default 4)
  --gap MS         steady time before and between upgrades (default 1000)`;

/** Runs the example; returns the exit code. */
export async function example(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      keys: { type: "string" },
      "value-size": { type: "string" },
      upgrades: { type: "string" },
      concurrency: { type: "string" },
      gap: { type: "string" },
      mode: { type: "string", default: "luo" },
      json: { type: "boolean" },
      help: { type: "boolean" },
      debug: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(EXAMPLE_HELP);
    return 0;
  }
  if (positionals[0] !== "cache-server") {
    throw new UsageError(`example: unknown example "${positionals[0] ?? ""}" (try cache-server)`);
  }
  if (values.mode !== "luo" && values.mode !== "snapshot") {
    throw new UsageError(`--mode must be luo or snapshot`);
  }
  const r = await runScenario({
    keys: positiveInt("keys", values.keys, 10_000),
    valueSize: positiveInt("value-size", values["value-size"], 256),
    upgrades: positiveInt("upgrades", values.upgrades, 3),
    concurrency: positiveInt("concurrency", values.concurrency, 4),
    gapMs: positiveInt("gap", values.gap, 1000, 0),
    mode: values.mode,
    maxRequests: 2_000_000,
    maxMs: 30 * 60_000,
    log: (m) => console.error(`example: ${m}`),
  });
  if (values.json) console.log(JSON.stringify(r, null, 2));
  else {
    const ms = (v: unknown) => `${Number(v).toFixed(1)} ms`;
    console.log(table(["what", "value"], [
      ["mode", r.mode],
      ["keys, value bytes", `${r.keys}, ${r.valueBytes}`],
      ["requests", String(r.requests)],
      ["failed requests", String(r.failures)],
      ["connection retries (idempotent)", String(r.connectionRetries)],
      ["p99 latency, steady", ms(r.steadyP99Ms)],
      ["p99 latency, during upgrades", ms(r.upgradeP99Ms)],
      ["keys read back, wrong", `${r.keysVerified}, ${r.keyMismatches}`],
      ["final generation, liveupdate-number", `${r.finalGeneration}, ${r.finalLiveupdateNumber}`],
    ]));
    console.log();
    console.log(table(
      [
        "upgrade",
        "handover",
        "successor restore",
        "successor start to ready",
        "first answer from new gen",
      ],
      r.upgrades.map((u) => [
        `${u.from} -> ${u.to}`,
        ms(u.handoverMs),
        ms(u.successorRestoreMs),
        ms(u.successorStartToReadyMs),
        u.firstAnswerMs === null ? "-" : ms(u.firstAnswerMs),
      ]),
    ));
    for (const f of r.failureSamples.slice(0, 10)) console.error(`example: failed: ${f}`);
  }
  return r.failures === 0 && r.keyMismatches === 0 ? 0 : 1;
}
