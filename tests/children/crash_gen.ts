// Child of tests/crash_test.ts.
//   gen1 PATH       first generation: sessions s0..s9 x 200 memfds, hand over
//   gen2 PATH MODE  successor: verify gen1 byte for byte and finish its
//                   sessions, write gen2, hand over (prints "handover-start"
//                   right before the handover, "done" after). MODE
//                   "keep-last" leaves the last session unretrieved;
//                   "finish-all" retrieves and finishes every session, prints
//                   "finished" and waits for a line on stdin before writing
//                   gen2 (the test kills it there, or lets it go on)
//   check PATH      open as the next successor; print which complete generation
//                   is there ({"state":"gen1"|"gen2"|"none"}, every file
//                   compared byte for byte) or exit 1 on a half state
import { LiveUpdate, MemFile } from "../../mod.ts";

const [stage, path, mode] = Deno.args;
const SESSIONS = 10;
const FILES = 200;
const enc = new TextEncoder();
const data = (gen: number, i: number, j: number) =>
  enc.encode(`gen${gen}-${i}-${j}-${"x".repeat((i * 7 + j) % 300)}`);

function write(luo: LiveUpdate, gen: number): void {
  for (let i = 0; i < SESSIONS; i++) {
    const s = luo.createSession(`s${i}`);
    for (let j = 0; j < FILES; j++) {
      s.preserve(MemFile.from(luo.arena, data(gen, i, j)), BigInt(j));
    }
  }
}

/** The first index where `got` differs from `want` (-1: equal, length included). */
function firstDifference(got: Uint8Array, want: Uint8Array): number {
  if (got.length !== want.length) return Math.min(got.length, want.length);
  for (let k = 0; k < want.length; k++) if (got[k] !== want[k]) return k;
  return -1;
}

/** Verifies a generation byte for byte (its first `upTo` sessions); returns the first difference. */
function verify(luo: LiveUpdate, gen: number, upTo = SESSIONS): string | null {
  const names = luo.incomingSessions();
  if (names.length !== SESSIONS) return `${names.length} sessions`;
  for (let i = 0; i < upTo; i++) {
    const s = luo.retrieveSession(`s${i}`);
    if (s.fileCount !== FILES) return `s${i}: ${s.fileCount} files`;
    for (let j = 0; j < FILES; j++) {
      const f = s.retrieve(BigInt(j), MemFile);
      const at = firstDifference(f.bytes(), data(gen, i, j));
      if (at >= 0) return `s${i}/${j}: ${f.size} bytes, first difference at byte ${at}`;
      f.close();
    }
    s.finish();
  }
  return null;
}

if (stage === "gen1") {
  const luo = LiveUpdate.create({ path, size: 64 << 20 });
  write(luo, 1);
  luo.handover();
} else if (stage === "gen2") {
  if (mode !== "keep-last" && mode !== "finish-all") throw new Error(`unknown mode ${mode}`);
  const luo = LiveUpdate.open(path);
  const bad = verify(luo, 1, mode === "keep-last" ? SESSIONS - 1 : SESSIONS);
  if (bad) throw new Error(`gen2: gen1 is wrong: ${bad}`);
  if (mode === "finish-all") {
    if (luo.incomingSessions().length !== 0) throw new Error("gen2: a session is not finished");
    console.log("finished");
    const go = new Uint8Array(1);
    if (Deno.stdin.readSync(go) !== 1) throw new Error("gen2: stdin closed before the go");
  }
  write(luo, 2);
  console.log("handover-start");
  luo.handover();
  console.log("done");
} else if (stage === "check") {
  using luo = LiveUpdate.open(path);
  if (!luo.hasIncoming) {
    console.log(JSON.stringify({ state: "none" }));
  } else {
    const gen = Number(luo.incomingNumber);
    const bad = verify(luo, gen);
    if (bad) {
      console.error(`half state: liveupdate-number ${gen}: ${bad}`);
      Deno.exit(1);
    }
    console.log(JSON.stringify({ state: `gen${gen}` }));
  }
} else {
  throw new Error(`unknown stage ${stage}`);
}
