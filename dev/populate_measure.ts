// Measures what item 5 of issue 12 asks (repository-only, not a bench
// suite: it needs fresh processes): a predecessor hands over one memory
// file of SIZE MiB; fresh successor processes then open the arena,
// retrieve the file (its pages populated, or not) and checksum every byte,
// and checksum the same bytes again, now in memory (the baseline). Prints
// the minimum of the repeats of each and their ratio.
//
//   ./luo deno run -A dev/populate_measure.ts [SIZE_MIB=256] [REPEATS=5]
import { LiveUpdate, MemFile } from "../mod.ts";

const MiB = 1 << 20;

/** The checksum every method computes: a sum of the 32-bit words. */
function checksum(bytes: Uint8Array): number {
  const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  let s = 0;
  for (let i = 0; i < w.length; i++) s = (s + w[i]) | 0;
  return s;
}

/** The successor: one JSON line with the times of retrieve + checksum, and of the checksum again. */
function successor(path: string, populate: boolean): void {
  // The checksum compiled before anything is timed (as it would be in a long-running service).
  const warm = new Uint8Array(MiB);
  for (let i = 0; i < 50; i++) checksum(warm);
  const t0 = performance.now();
  const luo = LiveUpdate.open(path, { memfdPopulate: populate });
  const f = luo.retrieveSession("data").retrieve(0n, MemFile);
  const bytes = f.bytes();
  const tr = performance.now();
  const first = checksum(bytes);
  const t1 = performance.now();
  const again = checksum(bytes);
  const t2 = performance.now();
  if (first !== again) throw new Error("the checksums differ");
  console.log(JSON.stringify({ cold: t1 - t0, retrieve: tr - t0, inMemory: t2 - t1, sum: first }));
  luo.close(); // no handover: the next successor finds the same image
}

/** What one successor measured, in ms. */
interface Times {
  cold: number;
  retrieve: number;
  inMemory: number;
}

async function measure(path: string, populate: boolean): Promise<Times> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--successor", path, String(populate)],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`successor exited with ${out.code}`);
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

async function main(sizeMiB: number, repeats: number): Promise<void> {
  const size = sizeMiB * MiB;
  const luo = LiveUpdate.create({ size: 2 * size + 64 * MiB });
  const path = luo.arena.path;
  try {
    const f = MemFile.create(luo.arena, size);
    const b = f.bytes();
    for (let i = 0; i < size; i += 4096) b.fill(i / 4096 & 0xff, i, i + 4096);
    luo.createSession("data").preserve(f, 0n);
    luo.handover();
    luo.close();
    const runs: Record<string, Times[]> = { populate: [], fault: [] };
    for (let r = 0; r < repeats; r++) {
      runs.populate.push(await measure(path, true));
      runs.fault.push(await measure(path, false));
    }
    const min = (xs: number[]) => Math.min(...xs);
    const base = min([...runs.populate, ...runs.fault].map((x) => x.inMemory));
    console.log(`${sizeMiB} MiB, minimum of ${repeats} fresh successors each`);
    console.log(`  checksum over bytes in memory           ${base.toFixed(1)} ms`);
    for (const [name, xs] of Object.entries(runs)) {
      const cold = min(xs.map((x) => x.cold));
      const retrieve = min(xs.map((x) => x.retrieve));
      console.log(
        `  open + retrieve + checksum (${name.padEnd(8)})  ${cold.toFixed(1)} ms  ${
          (cold / base).toFixed(2)
        }x` +
          `  (open + retrieve alone ${retrieve.toFixed(1)} ms)`,
      );
    }
  } finally {
    Deno.removeSync(path);
  }
}

if (Deno.args[0] === "--successor") successor(Deno.args[1], Deno.args[2] === "true");
else await main(Number(Deno.args[0] ?? 256), Number(Deno.args[1] ?? 5));
