// Child of tests/kvmap_crash_test.ts: a successor changing a retrieved
// PreservedMap in place, killed at random points, and the check of what a
// restarted successor reads. The operations come from testing/kvmap_model.ts.
//   gen1 PATH OPS GROW      a map after OPS operations (seed 1), handed over; with
//                           GROW=0 its index and head segment are reserved so
//                           that the mutations below never allocate. Prints {"slots"}
//   mutate PATH OPS         retrieve the map, then operations 0..OPS-1 (seed 2),
//                           writing "begin i" / "done i" to a progress page
//                           (its address is printed first, then "ready"); exits
//                           without handing over. Prints "allocated by op i"
//                           as soon as a set or delete allocated (GROW=0 runs
//                           must not; compact() may: it seals the head).
//   check PATH OPS BEGIN DONE  a restarted successor: the map must read as
//                           after operations 0..BEGIN-1, or 0..BEGIN; as after
//                           0..BEGIN when DONE > BEGIN. Then 300 more
//                           operations, checked too. Prints {"state":
//                           "before"|"after", "slots"}; exits 1 on any difference.
import { LiveUpdate, PreservedMap } from "../../mod.ts";
import { PHYS_BASE } from "../../kho.ts";
import { apply, applyToModel, differs, type Model, opAt } from "../../testing/kvmap_model.ts";

const [stage, path, a1, a2, a3] = Deno.args;
const KEYS = 1500;
const MAX_VALUE = 200;
const op = (seed: number, i: number) => opAt(seed, i, KEYS, MAX_VALUE);

function retrieve(luo: LiveUpdate): PreservedMap {
  const s = luo.retrieveSession("crash");
  const map = s.retrieve(1n, PreservedMap);
  s.finish();
  return map;
}

if (stage === "gen1") {
  const luo = LiveUpdate.create({ path, size: 64 << 20 });
  const map = PreservedMap.create(luo.arena);
  for (let i = 0; i < Number(a1); i++) apply(map, new Map(), op(1, i));
  if (a2 === "0") map.reserve(4 * KEYS, 24 << 20);
  const slots = map.stats().slots;
  luo.createSession("crash").preserve(map, 1n);
  luo.handover();
  console.log(JSON.stringify({ slots }));
} else if (stage === "mutate") {
  const luo = LiveUpdate.open(path);
  const map = retrieve(luo);
  const progressPa = luo.arena.alloc(4096, { zero: true });
  const progress = new Int32Array(luo.arena.memory.buffer, Number(progressPa - PHYS_BASE), 2);
  const scratch: Model = new Map();
  console.log(`progress 0x${progressPa.toString(16)}\nready`);
  const ops = Number(a1);
  for (let i = 0; i < ops; i++) {
    const o = op(2, i);
    const allocations = luo.arena.info().allocations;
    progress[0] = i;
    apply(map, scratch, o);
    progress[1] = i + 1;
    if (o.op !== "compact" && luo.arena.info().allocations !== allocations) {
      console.log(`allocated by op ${i} (${o.op})`);
    }
  }
  console.log("done");
  luo.close();
} else if (stage === "check") {
  const [gen1Ops, begin, done] = [Number(a1), Number(a2), Number(a3)];
  const before: Model = new Map();
  for (let i = 0; i < gen1Ops; i++) applyToModel(before, op(1, i));
  for (let i = 0; i < begin; i++) applyToModel(before, op(2, i));
  const after: Model = new Map(before);
  applyToModel(after, op(2, begin));
  using luo = LiveUpdate.open(path);
  const map = retrieve(luo);
  const asBefore = differs(map, before);
  const asAfter = differs(map, after);
  if (asAfter !== null && (asBefore !== null || done > begin)) {
    console.error(`op ${begin} (done ${done}): before: ${asBefore}; after: ${asAfter}`);
    Deno.exit(1);
  }
  const model = asAfter === null ? after : before;
  for (let i = 0; i < 300; i++) apply(map, model, op(3, i));
  const later = differs(map, model);
  if (later !== null) {
    console.error(`after 300 more operations: ${later}`);
    Deno.exit(1);
  }
  const state = asAfter === null ? "after" : "before";
  console.log(JSON.stringify({ state, slots: map.stats().slots }));
}
