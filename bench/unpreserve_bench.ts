// Unpreserving in every order, and a sliding window (evict the oldest,
// preserve a new one), at 10k and 80k files of one session: the time per
// file must not grow with the number of files (a backward-shift delete in
// the token index made oldest-first quadratic).
import { LiveUpdate } from "../mod.ts";
import { bareHandler } from "../testing/bare_handler.ts";

const SIZES = [10_000, 80_000];

function filled(n: number): { luo: LiveUpdate; s: ReturnType<LiveUpdate["createSession"]> } {
  const luo = LiveUpdate.create({ size: 64 << 20, handlers: [bareHandler] });
  const s = luo.createSession("s");
  for (let i = 0; i < n; i++) s.preserve({ t: BigInt(i) }, i);
  return { luo, s };
}

for (const n of SIZES) {
  for (const order of ["oldest first", "newest first"] as const) {
    Deno.bench({ name: `unpreserve ${order} [${n}]`, group: order, n: 5, warmup: 1 }, (b) => {
      const { luo, s } = filled(n);
      b.start();
      if (order === "oldest first") { for (let i = 0; i < n; i++) s.unpreserve(i); }
      else for (let i = n - 1; i >= 0; i--) s.unpreserve(i);
      b.end();
      luo.close();
    });
  }
  Deno.bench({ name: `sliding window [${n}]`, group: "window", n: 5, warmup: 1 }, (b) => {
    const { luo, s } = filled(n);
    b.start();
    for (let i = 0; i < n; i++) {
      s.unpreserve(i);
      s.preserve({ t: BigInt(n + i) }, n + i);
    }
    b.end();
    luo.close();
  });
}
