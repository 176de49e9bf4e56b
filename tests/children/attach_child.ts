// Child of tests/kho_attach_test.ts: a successor that grows the published
// image and is SIGKILLed by the test before any handover of its own.
//   attach PATH N   open the arena, print "ready", then N times: allocate a
//                   block of 1, 2 or 4 pages, fill it with a pattern, attach
//                   it, print `<i> <pa> <size>`; print "attached" and wait
//                   to be killed.
//   churn PATH N    the same, but once 50 blocks are attached, each new one
//                   is followed by freeUnreferenced of the oldest, printed
//                   `free <i>`: the published map stays at about 50 entries.
import { Arena, PAGE_SIZE } from "../../lib/kho/arena.ts";
import { patternByte } from "../../testing/pattern.ts";

const [stage, path, count] = Deno.args;
if (stage !== "attach" && stage !== "churn") throw new Error(`unknown stage ${stage}`);
const WINDOW = 50;
const arena = Arena.open(path);
console.log("ready");
const n = Number(count);
const live: bigint[] = [];
for (let i = 0; i < n; i++) {
  const size = (1 << (i % 3)) * PAGE_SIZE;
  const pa = arena.alloc(size);
  const b = arena.bytes(pa, size);
  for (let j = 0; j < size; j += 509) b[j] = patternByte(i, j);
  arena.attach(pa);
  console.log(`${i} ${pa} ${size}`);
  live.push(pa);
  if (stage === "churn" && live.length > WINDOW) {
    arena.freeUnreferenced(live[i - WINDOW]);
    console.log(`free ${i - WINDOW}`);
  }
}
console.log("attached");
setInterval(() => {}, 1 << 30); // stay alive until killed
