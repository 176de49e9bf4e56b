// A successor that rewrites a retrieved PreservedMap in place needs room
// for what the map holds, not for what it ever wrote: the segments and
// index blocks it drops leave the published image at once
// (Arena.freeUnreferenced), so generation after generation, and restart
// after SIGKILLed restart, the pages in use stay bounded and every
// handover works. (Before, each dropped block stayed parked until the
// successor's own handover: a 64 MiB arena ran out after 31,600
// overwrites of the second generation.)
import assert from "node:assert/strict";
import { runOk } from "../testing/child_process.ts";
import { Rng } from "../testing/rng.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/kvmap_room.ts", import.meta.url);
const KEYS = 1000;
/** Each generation overwrites the map's live bytes this many times (1 MB of values, 200 MB written). */
const OVERWRITES = 200 * KEYS;
const SIZE = 64 << 20;

interface Room {
  inUse: number;
  mapPages: number;
  handedOverAtOpen: number;
}

async function run(args: string[]): Promise<Room> {
  const out = (await runOk(CHILD, args)).stdout.trim().split("\n");
  return JSON.parse(out.at(-1)!);
}

/** The bound on pages in use: the map twice over (a compaction in flight, a new head) and 64 pages. */
function bound(first: Room): number {
  return 2 * first.mapPages + 64;
}

Deno.test("kvmap room: three generations overwrite the map 200 times each in a 64 MiB arena; pages stay bounded, every handover works", async () => {
  const t = tempArena();
  try {
    const first = await run(["first", t.path, String(SIZE), String(KEYS), String(OVERWRITES)]);
    const gens = [first];
    for (let g = 1; g < 3; g++) {
      const from = String(g * OVERWRITES);
      gens.push(await run(["next", t.path, String(KEYS), from, String(OVERWRITES), "1"]));
    }
    const last = await run(["verify", t.path, String(KEYS)]);
    if (Deno.env.get("LUO_VERBOSE")) console.log("kvmap room by generation:", gens, last);
    for (const [g, r] of [...gens, last].entries()) {
      assert.ok(r.inUse <= bound(first), `generation ${g + 1}: ${r.inUse} pages in use`);
      assert.ok(r.mapPages <= bound(first), `generation ${g + 1}: the map has ${r.mapPages} pages`);
    }
  } finally {
    t.cleanup();
  }
});

/**
 * Starts `next` overwriting without end and SIGKILLs it `delayMs` after it
 * is ready; returns the pages it found handed over when it opened.
 */
async function killNext(path: string, from: number, delayMs: number): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      CHILD.pathname,
      "next",
      path,
      String(KEYS),
      String(from),
      "0",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  for (let reads = 0; !/ready \d+\n/.test(out); reads++) {
    const { value, done } = await reader.read();
    if (done || reads > 1000) break;
    out += value;
  }
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill("SIGKILL");
  await reader.cancel();
  const status = await child.status;
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(status.signal, "SIGKILL", `the successor exited on its own: ${out}\n${stderr}`);
  return Number(out.match(/ready (\d+)/)![1]);
}

/** Pages one kill may leave listed: a kill between a commit and its free, the largest segment (512 KiB). */
const PER_KILL = 128;

Deno.test("kvmap room: successors SIGKILLed while overwriting leave a bounded image; the next one verifies every key and hands over", async () => {
  const t = tempArena();
  const rng = new Rng(15);
  try {
    const first = await run(["first", t.path, String(SIZE), String(KEYS), String(2 * KEYS)]);
    // Restarts in a row, none of which hands over: what each finds handed
    // over is the map, its predecessor's metadata, and at most one block
    // per earlier kill that a kill between a commit and its free left
    // listed (freed by the next handover).
    const kills = 6;
    const found: number[] = [];
    for (let k = 0; k < kills; k++) {
      found.push(await killNext(t.path, (k + 1) * 10_000_000, 150 + rng.int(350)));
      assert.ok(found[k] <= bound(first) + k * PER_KILL, `restart ${k}: ${found[k]} pages`);
    }
    const last = await run(["verify", t.path, String(KEYS)]);
    if (Deno.env.get("LUO_VERBOSE")) console.log("kvmap room after kills:", found, last);
    assert.ok(last.handedOverAtOpen <= bound(first) + kills * PER_KILL, `${last.handedOverAtOpen}`);
    assert.ok(last.inUse <= bound(first) + kills * PER_KILL, `${last.inUse} pages in use`);
  } finally {
    t.cleanup();
  }
});
