/**
 * One sample of the entry benchmarks in this process, as the report runs
 * them (a fresh process per sample). One session of N bare entries (a
 * handler that keeps nothing but the 64-byte entry: the LUO layer is what
 * is measured). Prints one JSON line.
 *
 *   image   --arena FILE --files N   preserve N entries, hand over (after the same
 *           untimed on a few entries, so that the code is compiled):
 *           {preserveNs, handoverNs}
 *   restore --arena FILE --files N --rounds R
 *           open, validate (the incoming image read), retrieve every file;
 *           round 1 cold, the rest warm in the same process (no handover:
 *           the image stays): {cold: {openNs, validateNs, retrieveNs},
 *           warm: the same, each the minimum of rounds 2..R}
 *   memcpy  --files N --rounds R     copies of the N entries' file blocks,
 *           natively and with Uint8Array.set, over pages already touched:
 *           {bytes, nativeNs, setNs}, each the minimum of R rounds
 *
 * @module
 */

import { parseArgs } from "node:util";
import { LiveUpdate, LuoError } from "../../mod.ts";
import { Arena } from "../../kho.ts";
import { nativeCopy } from "../../lib/kho/faults.ts";
import { MAX_BENCH_FILES } from "../../testing/bench_sizes.ts";
import { type Command, printResult, requiredInt, requiredString, runChild } from "../child_args.ts";
import {
  arenaFor,
  BARE_SESSION,
  bareHandler,
  bareLiveUpdate,
  bareObjects,
  fileBlockBytes,
  loadNativeLibraryNow,
  preserveBare,
} from "../fixtures.ts";
import { timeNs } from "../span.ts";
import { WARM_UP_FILES } from "../lifecycle/warm_up.ts";

const MAX_ROUNDS = 1000;

function parse(args: string[], arena: boolean) {
  const { values } = parseArgs({
    args,
    options: {
      arena: { type: "string" },
      files: { type: "string" },
      rounds: { type: "string" },
    },
  });
  return {
    arena: arena ? requiredString("arena", values.arena) : "",
    files: requiredInt("files", values.files, 1, MAX_BENCH_FILES),
    rounds: values.rounds === undefined ? 1 : requiredInt("rounds", values.rounds, 1, MAX_ROUNDS),
  };
}

/** Preserves and hands over a few bare files in a temporary arena, so that the timed run finds its code compiled. */
function warmUp(): void {
  const luo = bareLiveUpdate(WARM_UP_FILES);
  const path = luo.arena.path;
  preserveBare(luo, bareObjects(WARM_UP_FILES));
  luo.handover();
  Deno.removeSync(path);
}

function image(args: string[]): number {
  const { arena, files } = parse(args, true);
  loadNativeLibraryNow();
  warmUp();
  const luo = bareLiveUpdate(files, arena);
  const objs = bareObjects(files);
  const preserveNs = timeNs(() => preserveBare(luo, objs));
  const handoverNs = timeNs(() => luo.handover());
  printResult({ files, preserveNs, handoverNs });
  return 0;
}

interface RestoreTimes {
  openNs: number;
  validateNs: number;
  retrieveNs: number;
}

function restoreOnce(path: string, files: number): RestoreTimes {
  let luo: LiveUpdate | undefined;
  let names: string[] = [];
  const openNs = timeNs(() => luo = LiveUpdate.open(path, { handlers: [bareHandler] }));
  try {
    const validateNs = timeNs(() => names = luo!.incomingSessions());
    let got = 0;
    const retrieveNs = timeNs(() => {
      const s = luo!.retrieveSession(BARE_SESSION);
      for (const t of s.tokens()) s.retrieve(t);
      got = s.fileCount;
    });
    if (names.length !== 1 || got !== files) {
      throw new LuoError(
        "EBADMSG",
        `restore: ${names.length} sessions, ${got} files; want 1, ${files}`,
      );
    }
    return { openNs, validateNs, retrieveNs };
  } finally {
    luo!.close();
  }
}

function restore(args: string[]): number {
  const { arena, files, rounds } = parse(args, true);
  const libraryNs = loadNativeLibraryNow();
  const cold = restoreOnce(arena, files);
  let warm: RestoreTimes | undefined;
  for (let r = 1; r < rounds; r++) {
    const t = restoreOnce(arena, files);
    warm = warm === undefined ? t : {
      openNs: Math.min(warm.openNs, t.openNs),
      validateNs: Math.min(warm.validateNs, t.validateNs),
      retrieveNs: Math.min(warm.retrieveNs, t.retrieveNs),
    };
  }
  printResult({ files, libraryNs, cold, warm });
  return 0;
}

/** Copies per timed round: about 16 MiB per round, so that small copies are timed in bulk. */
function copiesPerRound(bytes: number): number {
  return Math.max(1, Math.floor((16 << 20) / bytes));
}

function memcpy(args: string[]): number {
  const { files, rounds } = parse(args, false);
  const bytes = fileBlockBytes(files);
  using arena = Arena.create({ size: arenaFor(2 * bytes) });
  const src = arena.alloc(bytes);
  const dst = arena.alloc(bytes);
  arena.bytes(src, bytes).fill(7);
  arena.bytes(dst, bytes).fill(0); // touched: no page fault is timed
  const reps = copiesPerRound(bytes);
  let nativeNs = Infinity;
  let setNs = Infinity;
  for (let r = 0; r < rounds; r++) {
    nativeNs = Math.min(
      nativeNs,
      timeNs(() => {
        for (let k = 0; k < reps; k++) nativeCopy(arena, dst, src, bytes);
      }) / reps,
    );
    setNs = Math.min(
      setNs,
      timeNs(() => {
        for (let k = 0; k < reps; k++) arena.bytes(dst, bytes).set(arena.bytes(src, bytes));
      }) / reps,
    );
  }
  printResult({ files, bytes, nativeNs, setNs });
  return 0;
}

const COMMANDS: Record<string, Command> = {
  image: { help: "usage: child.ts image --arena FILE --files N", run: image },
  restore: { help: "usage: child.ts restore --arena FILE --files N [--rounds R]", run: restore },
  memcpy: { help: "usage: child.ts memcpy --files N [--rounds R]", run: memcpy },
};

await runChild(COMMANDS, "usage: child.ts image|restore|memcpy ... (see the module's doc)");
