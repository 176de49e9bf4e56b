// Child of tests/state_survives_test.ts, run with --expose-gc: keeps only a
// view of a MemFile, drops the LiveUpdate and the file, puts the collector
// under pressure, and reads the view (the old finalizer unmapped the memory
// under it: SIGSEGV). Then drops the view too: the collector may now close
// the arena, which releases its lock, so the file opens again.
import { LiveUpdate, MemFile } from "../../mod.ts";

const path = Deno.args[0];
const gc = (globalThis as { gc?: () => void }).gc!;
const tick = () => new Promise((r) => setTimeout(r, 0));

function viewOnly(): Uint8Array {
  const luo = LiveUpdate.create({ path, size: 1 << 20 });
  return MemFile.from(luo.arena, new TextEncoder().encode("still here")).bytes();
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
// Every view is gone: the arena was closed by the collector and unlocked.
using again = LiveUpdate.open(path);
console.log(JSON.stringify({ text, reopened: again.arena.size }));
