// kho_attach and kho_discard_incoming, with real processes: a successor
// that grows the published image and is SIGKILLed before its own handover
// leaves every block it attached to the next opener, contents included.
import assert from "node:assert/strict";
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";
import { assertCode } from "../testing/assert_code.ts";
import { patternByte } from "../testing/pattern.ts";
import { Rng } from "../testing/rng.ts";
import { tempArena } from "../testing/temp_arena.ts";

const CHILD = new URL("./children/attach_child.ts", import.meta.url);
const ATTACHES = 3000; // crosses map-block boundaries (every 254 or 255 attaches)

/** A first generation that publishes a 1-page root; returns the root. */
function firstGeneration(path: string): bigint {
  using a = Arena.create({ path, size: 64 << 20 });
  const root = a.allocPreserve(PAGE_SIZE);
  a.handover(root);
  return root;
}

interface Attached {
  i: number;
  pa: bigint;
  size: number;
}

/**
 * Runs the attaching child (stage `attach`, or `churn`: each new block
 * followed by the free of an old one) and SIGKILLs it `delayMs` after it is
 * ready (or, with `Infinity`, once it has attached everything); returns
 * the blocks it reported attached before it died and, for `churn`, those
 * it reported freed (by their number).
 */
async function attachUntilKilled(
  path: string,
  delayMs: number,
  stage = "attach",
  freed = new Set<number>(),
): Promise<Attached[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD.pathname, stage, path, String(ATTACHES)],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      child.kill("SIGKILL");
    } catch { /* it is dead already */ }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const got: Attached[] = [];
  let text = "";
  for (let reads = 0; reads < 1_000_000; reads++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) {
      if (line === "ready" && delayMs !== Infinity) timer = setTimeout(kill, delayMs);
      else if (line === "attached") kill();
      else if (line.startsWith("free ")) freed.add(Number(line.slice(5)));
      else if (line !== "ready") {
        const [i, pa, size] = line.split(" ");
        got.push({ i: Number(i), pa: BigInt(pa), size: Number(size) });
      }
    }
  }
  clearTimeout(timer);
  const status = await child.status;
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(status.signal, "SIGKILL", `the child was not killed but exited: ${stderr}`);
  return got;
}

/** Opens as the next successor and checks every reported block is handed over, intact. */
function checkHandedOver(path: string, root: bigint, attached: Attached[]): number {
  using arena = Arena.open(path);
  assert.equal(arena.incomingRoot, root);
  const handedOver = arena.info().handedOverBlocks;
  for (const { i, pa, size } of attached) {
    assert.equal(arena.restore(pa) * PAGE_SIZE, size, `block ${i} at 0x${pa.toString(16)}`);
    const b = arena.bytes(pa, size);
    for (let j = 0; j < size; j += 509) {
      assert.equal(b[j], patternByte(i, j), `block ${i} byte ${j}`);
    }
  }
  return handedOver;
}

Deno.test("attach: a successor SIGKILLed after attaching leaves every block handed over", async () => {
  const t = tempArena();
  try {
    const root = firstGeneration(t.path);
    const attached = await attachUntilKilled(t.path, Infinity);
    assert.equal(attached.length, ATTACHES);
    // The root and every attached block; the map blocks are claimed at open.
    assert.equal(checkHandedOver(t.path, root, attached), 1 + ATTACHES);
  } finally {
    t.cleanup();
  }
});

Deno.test("attach: SIGKILL at random points while attaching never damages the image", async () => {
  const t = tempArena();
  const rng = new Rng(7);
  let midway = 0;
  try {
    for (let k = 0; k < 8; k++) {
      const path = `${t.dir}/kill-${k}.arena`;
      const root = firstGeneration(path);
      const attached = await attachUntilKilled(path, rng.int(20));
      // The child may have attached one more block than it could report.
      const n = checkHandedOver(path, root, attached);
      assert.ok(n === 1 + attached.length || n === 2 + attached.length, `kill ${k}: ${n} blocks`);
      if (attached.length < ATTACHES) midway++;
      Deno.removeSync(path);
    }
    assert.ok(midway > 0, "no kill landed while the child was attaching");
  } finally {
    t.cleanup();
  }
});

Deno.test("freeUnreferenced: SIGKILL while attaching and freeing leaves exactly the live blocks listed, intact", async () => {
  const t = tempArena();
  const rng = new Rng(12);
  let midway = 0;
  try {
    for (let k = 0; k < 6; k++) {
      const path = `${t.dir}/churn-${k}.arena`;
      const root = firstGeneration(path);
      const freed = new Set<number>();
      const attached = await attachUntilKilled(path, 5 + rng.int(40), "churn", freed);
      if (attached.length < ATTACHES) midway++;
      using arena = Arena.open(path);
      assert.equal(arena.incomingRoot, root);
      const listed = new Map([...arena.regions("handed-over")].map((r) => [r.pa, r.pages]));
      assert.ok(listed.delete(root));
      // The child may have done one more step than it could report: attached
      // the next block, or freed the next old one.
      const live = attached.filter((a) => !freed.has(a.i));
      const unreported = live.filter((a) => !listed.has(a.pa));
      assert.ok(unreported.length <= 1, `kill ${k}: ${unreported.length} live blocks not listed`);
      for (const { i, pa, size } of live.filter((a) => listed.has(a.pa))) {
        listed.delete(pa);
        assert.equal(arena.restore(pa) * PAGE_SIZE, size, `block ${i}`);
        const b = arena.bytes(pa, size);
        for (let j = 0; j < size; j += 509) assert.equal(b[j], patternByte(i, j), `block ${i}`);
      }
      assert.ok(listed.size <= 1, `kill ${k}: ${listed.size} blocks listed that are not live`);
      // The published map stays at about the window's size, not the attaches'.
      assert.ok(arena.info().handedOverBlocks <= 60, `${arena.info().handedOverBlocks} blocks`);
    }
    assert.ok(midway > 0, "no kill landed while the child was churning");
  } finally {
    t.cleanup();
  }
});

Deno.test("freeUnreferenced: frees a listed block at once; the map's blocks and the root are EBUSY", () => {
  const t = tempArena();
  try {
    const root = firstGeneration(t.path);
    let kept: bigint;
    {
      using arena = Arena.open(t.path);
      assertCode(() => arena.freeUnreferenced(root), "EBUSY", /published root/);
      const x = arena.alloc(PAGE_SIZE);
      arena.attach(x);
      const free = arena.info().freePages;
      arena.freeUnreferenced(x);
      assert.equal(arena.info().freePages, free + 1);
      assert.equal(arena.info().deferredPages, 0);
      assertCode(() => arena.freeUnreferenced(x), "EINVAL", /free_unreferenced 0x.*it is free/);
      assertCode(() => arena.freeUnreferenced(x + 1n), "EINVAL", /not a page address/);
      assertCode(() => arena.freeUnreferenced(-1n), "EINVAL", /outside the u64 range/);
      kept = arena.alloc(PAGE_SIZE);
      arena.attach(kept); // takes the slot x left
      const map = [...arena.regions("allocated")].find((r) => r.pa !== kept)!;
      assertCode(() => arena.freeUnreferenced(map.pa), "EBUSY", /preserved-memory map itself/);
    } // closed without a handover: what a crash leaves
    using next = Arena.open(t.path);
    assert.deepEqual([...next.regions("handed-over")].map((r) => r.pa).sort(), [root, kept].sort());
  } finally {
    t.cleanup();
  }
});

Deno.test("attach: ENOENT when nothing is published, EEXIST when listed already", () => {
  const t = tempArena();
  try {
    const root = firstGeneration(t.path);
    using arena = Arena.open(t.path);
    assertCode(() => arena.attach(root), "EEXIST", /attach 0x.*listed in the published image/);
    const x = arena.alloc(PAGE_SIZE);
    assertCode(() => arena.attach(x + 1n), "EINVAL", /attach 0x/);
    arena.discardIncoming();
    assertCode(() => arena.attach(x), "ENOENT", /no image is published/);
    assertCode(() => arena.discardIncoming(), "ENOENT", /no incoming image/);
  } finally {
    t.cleanup();
  }
});

Deno.test("discard: allowed with unclaimed blocks, frees them, keeps the handover count", () => {
  const t = tempArena();
  try {
    const root = firstGeneration(t.path);
    {
      using arena = Arena.open(t.path);
      assert.equal(arena.incomingRoot, root);
      const before = arena.info();
      assert.equal(before.handedOverBlocks, 1);
      arena.discardIncoming();
      const after = arena.info();
      assert.equal(after.handedOverBlocks, 0);
      assert.equal(after.allocatedPages, 0);
      assert.equal(after.freePages, after.pages - 1);
      assert.equal(after.incomingRoot, 0n);
    }
    using next = Arena.open(t.path);
    assert.equal(next.incomingRoot, 0n);
    assert.equal(next.info().handovers, 1n);
  } finally {
    t.cleanup();
  }
});
