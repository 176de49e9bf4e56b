// Child process of tests/kho_handover_test.ts.
//   write PATH   allocate and preserve regions of several sizes, fill them
//                with a pattern, hand over, print the regions as JSON, exit.
//   verify PATH JSON  open as the successor (poison mode), restore each region
//                by its physical address, verify every byte, check that the
//                non-preserved pages are free and poisoned, free everything
//                and check that no page is in use.
import { Arena, PAGE_SIZE, POISON_BYTE } from "../../lib/kho/arena.ts";
import { patternByte } from "../../testing/pattern.ts";

const [stage, path, json] = Deno.args;
const SIZES = [1, 4096, 4097, 3 * 4096, 64 * 1024, 1 << 20, 5 * 1024 * 1024 + 3];

function fail(msg: string): never {
  console.error(`verify: ${msg}`);
  Deno.exit(1);
}

if (stage === "write") {
  using arena = Arena.create({ path, size: 32 << 20 });
  const regions = SIZES.map((size, r) => {
    const pa = arena.allocPreserve(size);
    const b = arena.bytes(pa, size);
    for (let i = 0; i < size; i++) b[i] = patternByte(r, i);
    return { pa: pa.toString(), size };
  });
  // Scratch memory that is not preserved: must not survive.
  const scratch = arena.alloc(2 * PAGE_SIZE);
  arena.bytes(scratch, 2 * PAGE_SIZE).fill(0x11);
  arena.handover(BigInt(regions[0].pa));
  console.log(JSON.stringify({ regions, scratch: scratch.toString() }));
} else if (stage === "verify") {
  const { regions, scratch } = JSON.parse(json) as {
    regions: { pa: string; size: number }[];
    scratch: string;
  };
  using arena = Arena.open(path, { poison: true });
  const info = arena.info();
  if (info.handovers !== 1n) fail(`handovers ${info.handovers}, want 1`);
  if (info.incomingRoot !== BigInt(regions[0].pa)) fail(`root ${info.incomingRoot}`);
  if (info.handedOverBlocks !== regions.length) {
    fail(`${info.handedOverBlocks} handed-over blocks, want ${regions.length}`);
  }
  for (const [r, { pa, size }] of regions.entries()) {
    const pages = arena.restore(BigInt(pa));
    if (pages * PAGE_SIZE < size) fail(`region ${r}: ${pages} pages for ${size} bytes`);
    const b = arena.bytes(BigInt(pa), size);
    for (let i = 0; i < size; i++) {
      if (b[i] !== patternByte(r, i)) {
        fail(`region ${r} byte ${i}: ${b[i]} != ${patternByte(r, i)}`);
      }
    }
  }
  const s = arena.bytes(BigInt(scratch), 2 * PAGE_SIZE);
  if (!s.every((x) => x === POISON_BYTE)) fail("scratch pages were not poisoned");
  const allocated = [...arena.regions("allocated")];
  for (const { pa } of regions) arena.restoreFree(BigInt(pa));
  const after = arena.info();
  // Only the map block (held until our own handover) stays allocated.
  if (after.allocatedPages !== 1 || after.handedOverPages !== 0) {
    fail(`pages in use after freeing everything: ${JSON.stringify(after)}`);
  }
  arena.handover(0n);
  const end = arena.info();
  if (end.allocatedPages !== 0 || end.freePages !== end.pages - 1) {
    fail(`pages in use after the final handover: ${JSON.stringify(end)}`);
  }
  console.log(
    JSON.stringify({ ok: true, verified: regions.length, allocatedBefore: allocated.length }),
  );
} else {
  fail(`unknown stage ${stage}`);
}
