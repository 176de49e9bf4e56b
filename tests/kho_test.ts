import assert from "node:assert/strict";
import { Arena, PAGE_SIZE, PHYS_BASE } from "../lib/kho/arena.ts";
import { ARENA_HEADER } from "../lib/kho/physical.ts";
import { failAllocAfter, failSyncAfter } from "../lib/kho/faults.ts";
import { KhoError } from "../lib/errors.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runDeno } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const MiB = 1 << 20;

Deno.test("blocks are page-aligned and aligned to their power-of-two order", () => {
  using arena = Arena.create({ size: 4 * MiB });
  for (const size of [1, 4096, 4097, 8192, 12288, 65536, 100_000]) {
    const pa = arena.alloc(size);
    const pages = 2 ** Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE)));
    const page = (pa - PHYS_BASE) / BigInt(PAGE_SIZE);
    assert.equal(page % BigInt(pages), 0n, `size ${size}: page ${page} not aligned to ${pages}`);
    const region = [...arena.regions("allocated")].find((r) => r.pa === pa);
    assert.deepEqual(region, { pa, pages });
  }
});

Deno.test("exhaustion gives ENOMEM and the arena stays usable", () => {
  using arena = Arena.create({ size: 64 * PAGE_SIZE });
  const got: bigint[] = [];
  assertCode(
    () => {
      for (let i = 0; i < 1000; i++) got.push(arena.alloc(PAGE_SIZE));
    },
    "ENOMEM",
    /out of arena memory/,
  );
  assert.equal(got.length, 63);
  assert.equal(arena.info().freePages, 0);
  for (const pa of got) arena.free(pa);
  assert.equal(arena.info().freePages, 63);
  // Merged again: a 32-page block fits.
  arena.alloc(32 * PAGE_SIZE);
});

Deno.test("bad arguments give typed errors naming the call, the address and what it is", () => {
  using arena = Arena.create({ size: 64 * PAGE_SIZE });
  const pa = arena.alloc(2 * PAGE_SIZE);
  assertCode(() => arena.free(pa + 1n), "EINVAL", /free 0x.*not a page address/);
  assertCode(
    () => arena.free(pa + BigInt(PAGE_SIZE)),
    "EINVAL",
    /inside a block, not its first page/,
  );
  assertCode(() => arena.free(PHYS_BASE), "EINVAL", /the arena header's page/);
  assertCode(
    () => arena.free(PHYS_BASE + 1000n * BigInt(PAGE_SIZE)),
    "EINVAL",
    /outside the arena \(its last page is 0x/,
  );
  assertCode(() => arena.alloc(0), "EINVAL");
  assertCode(() => arena.preserve(pa, 3 * PAGE_SIZE), "EINVAL", /do not fit its block of 2 pages/);
  arena.free(pa);
  assertCode(() => arena.free(pa), "EINVAL", /free 0x.*: not a block to free: it is free/); // double free
  assertCode(() => arena.restore(pa), "EINVAL", /restore 0x.*not a handed-over block: it is free/);
  assertCode(() => arena.restoreFree(pa), "ENOENT", /restore_free 0x.*it is free/);
  assertCode(() => arena.unpreserveFree(pa), "EINVAL", /unpreserve_free 0x.*it is free/);
  const other = arena.alloc(PAGE_SIZE);
  assertCode(() => arena.restore(other), "ENOENT", /restore 0x.*it is a block of this process/);
  assertCode(() => arena.unpreserve(other, PAGE_SIZE), "ENOENT", /is not preserved already/);
  arena.preserve(other, PAGE_SIZE);
  assertCode(() => arena.preserve(other, PAGE_SIZE), "EEXIST", /is preserved already/);
  assertCode(() => arena.free(other), "EBUSY", /it is preserved \(unpreserve it first\)/);
  assertCode(() => arena.handover(other + 4096n * 8n), "EINVAL");
  assertCode(() => arena.bytes(PHYS_BASE - 1n, 1), "EINVAL", /outside arena/);
  const sizes = /arena size -?\d+: must be a multiple of 4096 between 8192 and 8796093022208/;
  for (const size of [5000, 4096, -8192, 2 ** 43 + 4096]) {
    assertCode(() => Arena.create({ size }), "EINVAL", sizes);
  }
});

Deno.test("the header's handover count is exact to 2^64-1; a handover past it is EOVERFLOW, nothing changed", async () => {
  const t = tempArena();
  try {
    const max = 2n ** 64n - 1n;
    {
      using arena = Arena.create({ path: t.path, size: 64 * PAGE_SIZE });
      arena.dataView.setBigUint64(ARENA_HEADER.handovers, max - 1n, true);
      const root = arena.allocPreserve(PAGE_SIZE);
      arena.handover(root);
      assert.equal(arena.info().handovers, max);
      const free = arena.info().freePages;
      assertCode(
        () => arena.handover(root),
        "EOVERFLOW",
        /handover count is 18446744073709551615, its maximum/,
      );
      assert.equal(arena.info().freePages, free);
      assert.equal(arena.info().handovers, max);
    }
    using next = Arena.open(t.path);
    assert.equal(next.info().handovers, max);
    assert.notEqual(next.incomingRoot, 0n, "the last good handover stays published");
    // inspect shows it as it is (the root here is no device tree: it exits 1 after the header).
    const shown = await runDeno(new URL("../cli.ts", import.meta.url), ["inspect", t.path]);
    assert.match(shown.stdout, /handovers 18446744073709551615\n/, shown.stderr);
  } finally {
    t.cleanup();
  }
});

Deno.test("restore and free in a successor say what the block is: handed over, restored, freed already", () => {
  const t = tempArena();
  try {
    let kept: bigint;
    {
      using first = Arena.create({ path: t.path, size: 64 * PAGE_SIZE });
      kept = first.allocPreserve(PAGE_SIZE);
      first.handover(kept);
    }
    using next = Arena.open(t.path);
    next.restore(kept);
    assertCode(() => next.restore(kept), "ENOENT", /restore 0x.*restored already/);
    next.free(kept); // parked: the image is still published
    assertCode(
      () => next.free(kept),
      "EINVAL",
      /freed already \(parked until this process hands over\)/,
    );
    assertCode(() => next.restore(kept), "ENOENT", /restore 0x.*freed already/);
  } finally {
    t.cleanup();
  }
});

Deno.test("arena files are created with mode 0600; an existing path is EEXIST", () => {
  const t = tempArena();
  try {
    using arena = Arena.create({ path: t.path, size: 16 * PAGE_SIZE });
    assert.equal(Deno.statSync(t.path).mode! & 0o777, 0o600);
    assertCode(() => Arena.create({ path: t.path, size: 16 * PAGE_SIZE }), "EEXIST");
    arena.close();
  } finally {
    t.cleanup();
  }
});

Deno.test("a second opener of a live arena gets EBUSY; after close it opens", () => {
  const t = tempArena();
  try {
    const arena = Arena.create({ path: t.path, size: 16 * PAGE_SIZE });
    assertCode(() => Arena.open(t.path), "EBUSY", /held by a live process/);
    // A read-only opener does not lock and does not block.
    Arena.open(t.path, { readOnly: true }).close();
    arena.close();
    Arena.open(t.path).close();
  } finally {
    t.cleanup();
  }
});

Deno.test("the lock of a killed process does not block the next opener", async () => {
  const t = tempArena();
  try {
    Arena.create({ path: t.path, size: 16 * PAGE_SIZE }).close();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { Arena } from ${
          JSON.stringify(new URL("../lib/kho/arena.ts", import.meta.url).href)
        };
         const a = Arena.open(${
          JSON.stringify(t.path)
        }); console.log("locked"); setInterval(() => a, 60_000);`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assert.match(new TextDecoder().decode(value), /locked/);
    assertCode(() => Arena.open(t.path), "EBUSY");
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    Arena.open(t.path).close();
  } finally {
    t.cleanup();
  }
});

Deno.test("opening a file that is not an arena, or a missing one, is a typed error", () => {
  const t = tempArena();
  try {
    Deno.writeTextFileSync(t.path, "hello, this is not an arena at all; ".repeat(10), {
      mode: 0o600,
    });
    assertCode(() => Arena.open(t.path), "ENOEXEC", /not an arena/);
    Deno.writeFileSync(t.path, new Uint8Array(8192));
    assertCode(() => Arena.open(t.path), "ENOEXEC", /the magic is zero/);
    assertCode(() => Arena.open(`${t.dir}/missing.arena`), "ENOENT");
  } finally {
    t.cleanup();
  }
});

Deno.test("a closed arena refuses calls and its views are empty; a temporary one is removed", () => {
  const arena = Arena.create({ size: 16 * PAGE_SIZE });
  assert.ok(Deno.statSync(arena.path).isFile);
  const pa = arena.alloc(PAGE_SIZE);
  const view = arena.bytes(pa, PAGE_SIZE);
  assert.equal(view.length, PAGE_SIZE);
  arena.close();
  arena.close();
  assert.equal(view.length, 0);
  assert.throws(() => arena.alloc(1), (e) => e instanceof KhoError && e.code === "EBADF");
  assert.throws(() => Deno.statSync(arena.path), Deno.errors.NotFound);
});

Deno.test("a read-only open never changes the file", () => {
  const t = tempArena();
  try {
    const a = Arena.create({ path: t.path, size: 16 * PAGE_SIZE });
    const pa = a.allocPreserve(PAGE_SIZE);
    a.bytes(pa, 4).set([9, 8, 7, 6]);
    a.handover(pa);
    a.close();
    const before = Deno.readFileSync(t.path);
    const r = Arena.open(t.path, { readOnly: true });
    assert.equal(r.info().handedOverBlocks, 2); // the root and the map block
    r.bytes(pa, 4).fill(0);
    assertCode(() => r.restore(pa), "EPERM");
    r.close();
    assert.deepEqual(Deno.readFileSync(t.path), before);
  } finally {
    t.cleanup();
  }
});

Deno.test("fault injection fails exactly the chosen allocation", () => {
  using arena = Arena.create({ size: 16 * PAGE_SIZE });
  failAllocAfter(arena, 2);
  arena.alloc(1);
  assertCode(() => arena.alloc(1), "ENOMEM");
  arena.alloc(1);
});

Deno.test("zero: a reused block comes back all zero; fresh pages are not written", () => {
  using arena = Arena.create({ size: 64 * PAGE_SIZE });
  const a = arena.allocRegion(2 * PAGE_SIZE, { zero: true });
  assert.equal(arena.info().zeroedPages, 0, "fresh pages were zero-filled");
  arena.bytes(a.pa, 2 * PAGE_SIZE).fill(0xff);
  arena.free(a.pa);
  // Without zero, the reused block shows what it held: the test reuses it.
  const dirty = arena.alloc(2 * PAGE_SIZE);
  assert.equal(dirty, a.pa);
  assert.equal(arena.bytes(dirty, 1)[0], 0xff);
  arena.free(dirty);
  for (
    const alloc of [
      () => arena.alloc(8000, { zero: true }),
      () => arena.allocPreserve(8000, { zero: true }),
    ]
  ) {
    const pa = alloc();
    assert.equal(pa, a.pa);
    assert.ok(
      arena.bytes(pa, 2 * PAGE_SIZE).every((b) => b === 0),
      "a byte of the old block survived",
    );
    arena.bytes(pa, 2 * PAGE_SIZE).fill(0xff);
    if (arena.info().preservedBlocks) arena.unpreserveFree(pa);
    else arena.free(pa);
  }
  assert.equal(arena.info().zeroedPages, 4);
});

Deno.test("zero: in a successor, a page the predecessor used comes back zero", () => {
  const t = tempArena();
  try {
    const first = Arena.create({ path: t.path, size: 16 * PAGE_SIZE });
    const scratch = first.alloc(PAGE_SIZE);
    first.bytes(scratch, PAGE_SIZE).fill(0x11);
    first.handover(first.allocPreserve(PAGE_SIZE));
    first.close();
    using next = Arena.open(t.path);
    const got = new Set<bigint>();
    for (let i = 0; i < 13; i++) {
      const pa = next.alloc(PAGE_SIZE, { zero: true });
      got.add(pa);
      assert.ok(next.bytes(pa, PAGE_SIZE).every((b) => b === 0), `page ${pa} not zero`);
    }
    assert.ok(got.has(scratch), "the predecessor's scratch page was not handed out");
  } finally {
    t.cleanup();
  }
});

Deno.test("sync: a failed msync before the commit point changes nothing; after it, the image is published and EIO says so", () => {
  const t = tempArena();
  try {
    using arena = Arena.create({ path: t.path, size: 16 * PAGE_SIZE, sync: true });
    const root = arena.allocPreserve(PAGE_SIZE);
    failSyncAfter(arena, 1);
    assertCode(
      () => arena.handover(root),
      "EIO",
      /handover of root 0x.* failed by fault injection/,
    );
    assert.equal(arena.info().handovers, 0n);
    failSyncAfter(arena, 3);
    assertCode(() => arena.handover(root), "EIO", /published all the same/);
    assert.equal(arena.info().handovers, 1n);
    arena.handover(root);
    assert.equal(arena.info().handovers, 2n);
  } finally {
    t.cleanup();
  }
});
