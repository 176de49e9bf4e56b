// The successor's finish at the arena level: of 2N handed-over 1-page
// blocks it keeps every other one and frees the rest, which stay deferred
// until its handover frees them. The handover's time per block must not
// grow with N (one pass; it used to rescan from page 1 after every block).
// Per-block time = avg / N; the groups differ only in N.
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";

/** Blocks kept (and as many freed) per size. */
const SIZES = [1_000, 4_000, 16_000, 64_000];

/** A handed-over image of `2 * n` preserved 1-page blocks; returns its bytes. */
function image(path: string, n: number): { bytes: Uint8Array; blocks: bigint[] } {
  const pages = 2 * n + Math.ceil(2 * n / 254) + 16;
  const a = Arena.create({ path, size: pages * PAGE_SIZE, reserve: false });
  const blocks = Array.from({ length: 2 * n }, () => a.allocPreserve(PAGE_SIZE));
  a.handover(blocks[0]);
  a.close();
  const bytes = Deno.readFileSync(path);
  Deno.removeSync(path);
  return { bytes, blocks };
}

const dir = Deno.makeTempDirSync({ prefix: "luo-drop-bench-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
for (const n of SIZES) {
  const path = `${dir}/drop-${n}.arena`;
  const { bytes, blocks } = image(path, n);
  Deno.bench({
    name: `handover after keeping ${n} blocks and freeing ${n} [${n}]`,
    group: "successor drop",
    n: n >= 16_000 ? 10 : 50,
    warmup: 2,
  }, (b) => {
    Deno.writeFileSync(path, bytes, { mode: 0o600 });
    const arena = Arena.open(path);
    blocks.forEach((pa, i) => {
      arena.restore(pa);
      if (i % 2 === 1) arena.restoreFree(pa);
    });
    b.start();
    arena.handover(0n);
    b.end();
    arena.close();
    Deno.removeSync(path);
  });
}
