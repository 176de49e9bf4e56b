// Child of tests/state_survives_test.ts, run with --expose-gc: views outlive
// every object that points at their arena, under collector pressure:
// - a MemFile view kept alone (the old finalizer unmapped under it: SIGSEGV);
// - an arena view's buffer transferred away (structuredClone with transfer,
//   as postMessage does), the original collected.
// Neither may crash; an arena nobody closed stays mapped and locked until
// the process exits, and close() empties the views it can and keeps the
// mapping when one was transferred away.
import { LiveUpdate, LiveUpdateError, MemFile } from "../../mod.ts";

const [path, path2] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc!;
const tick = () => new Promise((r) => setTimeout(r, 0));
const enc = new TextEncoder();

function viewOnly(): Uint8Array {
  const luo = LiveUpdate.create({ path, size: 1 << 20 });
  return MemFile.from(luo.arena, enc.encode("still here")).bytes();
}

async function pressure(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const garbage = Array.from({ length: 2000 }, (_, k) => new Uint8Array(1024 + k));
    if (garbage.length !== 2000) throw new Error("unreachable");
    gc();
    await tick();
  }
}

let view: Uint8Array | null = viewOnly();
await pressure(20);
const text = new TextDecoder().decode(view);
if (text !== "still here") throw new Error(`the view reads "${text}"`);
view = null;
await pressure(20);
let held = "";
try {
  LiveUpdate.open(path).close();
} catch (e) {
  held = e instanceof LiveUpdateError ? e.code : String(e);
}

// A buffer transferred out of an arena view, the original collected.
const luo2 = LiveUpdate.create({ path: path2, size: 1 << 20 });
const file = MemFile.from(luo2.arena, enc.encode("moved away"));
const buffer = file.bytes().buffer as ArrayBuffer;
const moved = (() => structuredClone(buffer, { transfer: [buffer] }))();
await pressure(10);
const movedText = new TextDecoder().decode(new Uint8Array(moved, 0, 10));
luo2.close(); // the transferred buffer cannot be revoked: the mapping stays
await pressure(10);
const afterClose = new TextDecoder().decode(new Uint8Array(moved, 0, 10));
console.log(JSON.stringify({ text, held, movedText, afterClose }));
