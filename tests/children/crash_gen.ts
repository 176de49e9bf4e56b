// Child of tests/crash_test.ts.
//   gen1 PATH    first generation: sessions s0..s9 x 200 memfds, hand over
//   gen2 PATH    successor: verify and finish gen1 but its last session (left
//                unretrieved, so gen1 stays the published state until the
//                handover commits), write gen2, hand over (prints
//                "handover-start" right before the handover, "done" after)
//   check PATH   open as the next successor; print which complete generation
//                is there ({"state":"gen1"|"gen2"|"none"}) or exit 1 on a half state
import { LiveUpdate, MemFile } from "../../mod.ts";

const [stage, path] = Deno.args;
const SESSIONS = 10;
const FILES = 200;
const enc = new TextEncoder();
const dec = new TextDecoder();
const data = (gen: number, i: number, j: number) =>
  `gen${gen}-${i}-${j}-${"x".repeat((i * 7 + j) % 300)}`;

function write(luo: LiveUpdate, gen: number): void {
  for (let i = 0; i < SESSIONS; i++) {
    const s = luo.createSession(`s${i}`);
    for (let j = 0; j < FILES; j++) {
      s.preserve(MemFile.from(luo.arena, enc.encode(data(gen, i, j))), BigInt(j));
    }
  }
}

/** Verifies a generation (its first `upTo` sessions); returns the first difference. */
function verify(luo: LiveUpdate, gen: number, upTo = SESSIONS): string | null {
  const names = luo.incomingSessions();
  if (names.length !== SESSIONS) return `${names.length} sessions`;
  for (let i = 0; i < upTo; i++) {
    const s = luo.retrieveSession(`s${i}`);
    if (s.fileCount !== FILES) return `s${i}: ${s.fileCount} files`;
    for (let j = 0; j < FILES; j++) {
      const f = s.retrieve(BigInt(j), MemFile);
      const got = dec.decode(f.bytes());
      if (got !== data(gen, i, j)) return `s${i}/${j}: "${got.slice(0, 40)}"`;
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
  const luo = LiveUpdate.open(path);
  const bad = verify(luo, 1, SESSIONS - 1);
  if (bad) throw new Error(`gen2: gen1 is wrong: ${bad}`);
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
}
