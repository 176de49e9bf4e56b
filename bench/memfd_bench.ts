// Carrying S bytes to a restarted process: the successor's restore time
// with memfd-v1 (zero-copy) against what a Deno user does today: a file
// (Deno.writeFile + Deno.readFile), node:v8 serialize to a file +
// deserialize, and Deno KV in 64 KiB chunks. The baseline is Deno.readFile.
import { deserialize, serialize } from "node:v8";
import { LiveUpdate, MemFile } from "../mod.ts";
import { BIG, removeAtExit } from "./fixtures.ts";

const MiB = 1 << 20;
const SIZES = BIG ? [16 * MiB, 256 * MiB, 1024 * MiB] : [16 * MiB, 256 * MiB];
const KV_CHUNK = 64 * 1024;

const dir = Deno.makeTempDirSync({ prefix: "luo-bench-memfd-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

for (const size of SIZES) {
  const group = `memfd ${size / MiB} MiB`;
  const opts = size >= 1024 * MiB ? { n: 3, warmup: 1 } : { n: 8, warmup: 1 };
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = i & 0xff;

  // memfd-v1: the predecessor writes once; every iteration is one more
  // generation: restore (timed), then preserve the same pages again and
  // hand over (not timed). No byte is copied at any point.
  const luo = LiveUpdate.create({ size: 2 ** Math.ceil(Math.log2(size * 2 + 16 * MiB)) });
  const f = MemFile.from(luo.arena, data);
  luo.createSession("data").preserve(f, 0n);
  const path = luo.arena.path;
  removeAtExit(path);
  luo.handover();
  Deno.bench({ name: `memfd-v1 restore (zero-copy) [${size / MiB} MiB]`, group, ...opts }, (b) => {
    b.start();
    const next = LiveUpdate.open(path);
    const s = next.retrieveSession("data");
    const m = s.retrieve(0n, MemFile);
    const view = m.bytes();
    s.finish();
    b.end();
    if (view.length !== size || view[4096] !== data[4096]) throw new Error("restored bytes differ");
    next.createSession("data").preserve(m, 0n);
    next.handover();
  });

  const file = `${dir}/state-${size}.bin`;
  Deno.writeFileSync(file, data);
  Deno.bench({ name: `Deno.readFile [${size / MiB} MiB]`, group, baseline: true, ...opts }, () => {
    if (Deno.readFileSync(file).length !== size) throw new Error("size");
  });

  const v8file = `${dir}/state-${size}.v8`;
  Deno.writeFileSync(v8file, serialize({ data }));
  Deno.bench(
    { name: `node:v8 deserialize from a file [${size / MiB} MiB]`, group, ...opts },
    () => {
      const o = deserialize(Deno.readFileSync(v8file)) as { data: Uint8Array };
      if (o.data.length !== size) throw new Error("size");
    },
  );

  if (size <= 256 * MiB || BIG) {
    const kvPath = `${dir}/kv-${size}.sqlite`;
    const kv = await Deno.openKv(kvPath);
    for (let off = 0, i = 0; off < size; off += KV_CHUNK, i++) {
      await kv.set(["state", i], data.subarray(off, off + KV_CHUNK));
    }
    kv.close();
    Deno.bench(
      { name: `Deno KV, 64 KiB chunks [${size / MiB} MiB]`, group, n: 3, warmup: 1 },
      async () => {
        const db = await Deno.openKv(kvPath);
        const out = new Uint8Array(size);
        let off = 0;
        for await (const e of db.list<Uint8Array>({ prefix: ["state"] }, { batchSize: 1000 })) {
          out.set(e.value, off);
          off += e.value.length;
        }
        db.close();
        if (off !== size) throw new Error(`kv size ${off}`);
      },
    );
  }
}
