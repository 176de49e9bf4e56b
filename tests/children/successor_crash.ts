// Child of tests/successor_crash_test.ts: a successor SIGKILLed at a chosen
// point before its own handover commits.
//   gen1 PATH         first generation: sessions s0..s3 x 50 memfds, hand over
//   succ PATH POINT   successor: retrieve everything ("retrieved"), write a
//                     marker into s0/0 in place ("written"), finish every
//                     session and close the files ("finished"); at POINT it
//                     prints the point and waits to be killed
//   check PATH        the next successor: prints what it finds as JSON
import { LiveUpdate, MemFile } from "../../mod.ts";

const [stage, path, point] = Deno.args;
const SESSIONS = 4;
const FILES = 50;
const enc = new TextEncoder();
const dec = new TextDecoder();
const data = (i: number, j: number) => `gen1-${i}-${j}-${"y".repeat((i * 13 + j) % 200)}`;
/** Written over the first bytes of s0/0 by the successor. */
const MARKER = "GEN2!";

async function reach(p: string): Promise<void> {
  console.log(p);
  if (p === point) await new Promise((r) => setTimeout(r, 60_000)); // killed here
}

if (stage === "gen1") {
  const luo = LiveUpdate.create({ path, size: 16 << 20 });
  for (let i = 0; i < SESSIONS; i++) {
    const s = luo.createSession(`s${i}`);
    for (let j = 0; j < FILES; j++) s.preserve(MemFile.from(luo.arena, enc.encode(data(i, j))), j);
  }
  luo.handover();
} else if (stage === "succ") {
  const luo = LiveUpdate.open(path);
  const sessions = luo.incomingSessions().map((n) => luo.retrieveSession(n));
  const files = sessions.map((s) => s.tokens().map((t) => s.retrieve(t, MemFile)));
  await reach("retrieved");
  files[0][0].bytes().set(enc.encode(MARKER));
  await reach("written");
  for (const s of sessions) s.finish();
  for (const f of files.flat()) f.close();
  await reach("finished");
} else if (stage === "check") {
  using luo = LiveUpdate.open(path);
  const found = {
    number: String(luo.incomingNumber),
    sessions: 0,
    files: 0,
    wrong: [] as string[],
  };
  let marker = false;
  for (const name of luo.incomingSessions()) {
    const s = luo.retrieveSession(name);
    const i = Number(name.slice(1));
    found.sessions++;
    for (const t of s.tokens()) {
      const text = dec.decode(s.retrieve(t, MemFile).read());
      const want = data(i, Number(t));
      if (i === 0 && t === 0n && text === MARKER + want.slice(MARKER.length)) marker = true;
      else if (text !== want) found.wrong.push(`${name}/${t}`);
      found.files++;
    }
    s.finish();
  }
  console.log(JSON.stringify({ ...found, marker }));
}
