// Child of tests/memfd_extents_test.ts: the successor of a handover of one
// large memory file. Opens the arena, retrieves the file (its pages
// populated, unless told not to), checks every byte against the pattern
// the predecessor wrote (testing/pattern.ts, region 1) and prints one JSON
// line.
import { LiveUpdate, MemFile } from "../../mod.ts";
import { patternByte } from "../../testing/pattern.ts";

const [path, populate] = Deno.args;
using luo = LiveUpdate.open(path, { memfdPopulate: populate !== "no-populate" });
const s = luo.retrieveSession("big");
const f = s.retrieve(0n, MemFile);
let bad = 0;
let at = 0;
// Bounded: one chunk of at most 16 MiB per step.
while (at < f.size) {
  const chunk = f.read(at, Math.min(16 << 20, f.size - at));
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(1, at + i)) bad++;
  at += chunk.length;
}
s.finish();
console.log(JSON.stringify({ size: f.size, extents: f.extents.length, bad }));
