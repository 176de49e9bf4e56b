import assert from "node:assert/strict";
import { BLOCK_HEADER, BlockChain, chainLayout } from "../lib/format/block.ts";
import { FILE_CHAIN } from "../lib/format/file_ser.ts";
import { SESSION_CHAIN } from "../lib/format/session_ser.ts";
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";
import { failAllocAfter } from "../lib/kho/faults.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena } from "../testing/temp_arena.ts";

const LAYOUT = chainLayout("test", 8192, 64);

Deno.test("abi: 127 files and 102 sessions per 8192-byte block", () => {
  assert.equal(FILE_CHAIN.perBlock, 127);
  assert.equal(SESSION_CHAIN.perBlock, 102);
});

/** Hands over a chain of `n` entries whose token field is i*3, and reopens the arena. */
function handedOverChain(n: number, mutate?: (a: Arena, heads: bigint[]) => void) {
  const t = tempArena();
  const a = Arena.create({ path: t.path, size: 4 << 20 });
  const chain = BlockChain.outgoing(a, LAYOUT, 100);
  chain.reserve(n);
  chain.fill(n, (dv, _b, off, i) => dv.setBigUint64(off, BigInt(i * 3), true));
  const heads = chain.blocks.map((x) => x.pa);
  mutate?.(a, heads);
  a.handover(chain.head || a.allocPreserve(PAGE_SIZE));
  a.close();
  return { t, head: heads[0] ?? 0n, heads, b: Arena.open(t.path) };
}

Deno.test("block chain grows by block, shrinks when a block's last entry goes", () => {
  using a = Arena.create({ size: 1 << 20 });
  const chain = BlockChain.outgoing(a, LAYOUT, 10);
  const free0 = a.info().freePages;
  chain.reserve(1);
  assert.equal(chain.blocks.length, 1);
  chain.reserve(127);
  assert.equal(chain.blocks.length, 1);
  chain.reserve(128);
  assert.equal(chain.blocks.length, 2);
  chain.shrink(127);
  assert.equal(chain.blocks.length, 1);
  chain.shrink(0);
  assert.equal(chain.blocks.length, 0);
  assert.equal(a.info().freePages, free0);
  assertCode(() => chain.reserve(10 * 127 + 1), "ENOSPC", /over the cap of 10/);
  assert.equal(chain.blocks.length, 0);
});

Deno.test("block chain: a failed allocation leaves the chain as it was", () => {
  using a = Arena.create({ size: 1 << 20 });
  const chain = BlockChain.outgoing(a, LAYOUT, 100);
  chain.reserve(127);
  failAllocAfter(a, 2);
  const free = a.info().freePages;
  assertCode(() => chain.reserve(127 * 4), "ENOMEM");
  assert.equal(chain.blocks.length, 1);
  assert.equal(a.info().freePages, free);
});

Deno.test("block chain: fill then restore reads every entry in order and frees the blocks", () => {
  for (const n of [1, 127, 128, 1000]) {
    const { t, head, b } = handedOverChain(n);
    try {
      const got: bigint[] = [];
      const chain = BlockChain.incoming(b, LAYOUT, head, {
        expected: n,
        maxBlocks: 100,
        claim: true,
      });
      chain.forEachEntry((dv, _b, off) => got.push(dv.getBigUint64(off, true)));
      const blocks = chain.blocks;
      assert.equal(b.info().handedOverBlocks, 0, "claimed");
      chain.release();
      assert.deepEqual(got, Array.from({ length: n }, (_, i) => BigInt(i * 3)));
      assert.deepEqual(
        blocks.map((x) => x.count),
        Array.from({ length: Math.ceil(n / 127) }, (_, i) => Math.min(127, n - i * 127)),
      );
      assert.equal(b.info().handedOverBlocks, 0);
      assert.equal(b.info().allocatedPages, 1); // only the native map block
    } finally {
      b.close();
      t.cleanup();
    }
  }
});

Deno.test("block chain: an incoming chain refuses the outgoing ops, an outgoing one release", () => {
  const { t, head, b } = handedOverChain(3);
  try {
    const chain = BlockChain.incoming(b, LAYOUT, head, { maxBlocks: 10, claim: true });
    assertCode(() => chain.reserve(1), "EINVAL", /reserve on an incoming chain/);
    assertCode(() => chain.fill(3, () => {}), "EINVAL", /fill on an incoming chain/);
    chain.release();
    chain.release(); // idempotent
    assert.equal(b.info().allocatedPages, 1);
    assertCode(
      () => BlockChain.outgoing(b, LAYOUT, 1).release(),
      "EINVAL",
      /release of an outgoing/,
    );
  } finally {
    b.close();
    t.cleanup();
  }
});

Deno.test("block chain restore: every violation is a typed error and nothing is claimed", () => {
  const cases: [string, (a: Arena, heads: bigint[]) => void, string, RegExp][] = [
    [
      "count 0",
      (a, h) => a.view(h[1], 16).setBigUint64(8, 0n, true),
      "EBADMSG",
      /block 1 has count 0/,
    ],
    [
      "count over capacity",
      (a, h) => a.view(h[0], 16).setBigUint64(8, 128n, true),
      "EBADMSG",
      /count 128, want 1\.\.127/,
    ],
    ["huge count", (a, h) => a.view(h[0], 16).setBigUint64(8, 1n << 60n, true), "EBADMSG", /count/],
    [
      "next outside",
      (a, h) => a.view(h[0], 16).setBigUint64(0, 1n << 50n, true),
      "EBADMSG",
      /outside the arena/,
    ],
    [
      "next unaligned",
      (a, h) => a.view(h[0], 16).setBigUint64(0, h[1] + 8n, true),
      "EBADMSG",
      /not page-aligned/,
    ],
    [
      "next to itself",
      (a, h) => a.view(h[0], 16).setBigUint64(0, h[0], true),
      "EBADMSG",
      /links back to block 0/,
    ],
    [
      "cycle of 3",
      (a, h) => a.view(h[2], 16).setBigUint64(0, h[0], true),
      "EBADMSG",
      /links back to block 0/,
    ],
    [
      "total mismatch",
      (a, h) => a.view(h[2], 16).setBigUint64(8, 5n, true),
      "EBADMSG",
      /the owner says 300/,
    ],
  ];
  for (const [what, damage, code, pattern] of cases) {
    const { t, head, b } = handedOverChain(300, (a, h) => damage(a, h));
    try {
      const before = b.info();
      assertCode(
        () => BlockChain.incoming(b, LAYOUT, head, { expected: 300, maxBlocks: 100, claim: true }),
        code,
        pattern,
      );
      assert.deepEqual(b.info(), before, what);
    } finally {
      b.close();
      t.cleanup();
    }
  }
  const { t, head, b } = handedOverChain(300);
  try {
    assertCode(
      () => BlockChain.incoming(b, LAYOUT, head, { maxBlocks: 2, claim: true }),
      "ENOSPC",
      /more than 2 blocks/,
    );
    // A pointer to memory that was not handed over.
    const other = BlockChain.outgoing(b, LAYOUT, 10);
    other.reserve(1);
    other.fill(1, () => {});
    assertCode(
      () => BlockChain.incoming(b, LAYOUT, other.head, { maxBlocks: 2, claim: true }),
      "EBADMSG",
      /not handed over/,
    );
    assert.equal(BLOCK_HEADER.size, 16);
  } finally {
    b.close();
    t.cleanup();
  }
});
