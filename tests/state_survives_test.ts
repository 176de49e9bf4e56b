// Issue 10: state survives the paths users walk. Each test reproduces one
// way the first version crashed, lost state or leaked, as a separate process
// where the item needs one.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile, PreservedMap, preserveManifest, readManifest } from "../mod.ts";
import { Arena } from "../kho.ts";
import { convertArena, inspectArena } from "../tools.ts";
import { assertCode } from "../testing/assert_code.ts";
import { tempArena, testArenaDir } from "../testing/temp_arena.ts";

const GC_VIEW = new URL("./children/gc_view.ts", import.meta.url);

Deno.test("views outlive their arena objects and transfers: the collector never unmaps under them", async () => {
  const t = tempArena();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "--v8-flags=--expose-gc",
        GC_VIEW.pathname,
        t.path,
        `${t.dir}/moved.arena`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.signal, null, `killed by ${out.signal}: ${stderr}`);
    assert.equal(out.code, 0, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(r, {
      text: "still here",
      held: "EBUSY", // never closed: mapped and locked until the process exits
      movedText: "moved away",
      afterClose: "moved away",
    });
  } finally {
    t.cleanup();
  }
});

Deno.test("a new memory file is zero on pages another file used (and freed) before", () => {
  using arena = Arena.create({ size: 1 << 20 });
  for (const size of [1, 100, 4096, 8192, 5000, 70_000]) {
    const old = MemFile.create(arena, size);
    old.bytes().fill(0xff);
    const pages = old.extents.map((e) => e.pa);
    old.close();
    const fresh = MemFile.create(arena, size);
    assert.deepEqual(fresh.extents.map((e) => e.pa), pages, `size ${size}: the same pages`);
    assert.ok(fresh.bytes().every((b) => b === 0), `size ${size}: stale bytes`);
    // Growing a file zero-fills the new bytes too.
    fresh.bytes().fill(0xee);
    fresh.close();
    const grown = MemFile.create(arena, 1);
    grown.resize(size + 1);
    assert.ok(grown.read(1).every((b) => b === 0), `size ${size}: grown bytes`);
    grown.close();
  }
});

Deno.test("session names that differ in JS but not in UTF-8 are refused", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  for (const name of ["cache-\uD800", "cache-\uDC00", "\uDBFF"]) {
    assertCode(() => luo.createSession(name), "EINVAL", /lone surrogate/);
  }
  for (const name of [42, null, undefined, {}]) {
    assertCode(() => luo.createSession(name as never), "EINVAL", /must be a string, got/);
  }
  luo.createSession("cache-\uD83D\uDE00"); // a well-formed pair is fine
  assert.deepEqual(luo.sessions(), ["cache-\uD83D\uDE00"]);
});

Deno.test("numbers that are not what they claim are EINVAL naming the argument and the value", () => {
  using luo = LiveUpdate.create({ size: 1 << 20 });
  const a = luo.arena;
  const bad = [NaN, -1, 1.5, Infinity, -Infinity, 2 ** 53, "7", true, 7n, null];
  for (const v of bad) {
    const shown = typeof v === "bigint" ? `${v}n` : typeof v === "string" ? `"${v}"` : String(v);
    const re = (what: string) =>
      new RegExp(`${what} ${shown.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `);
    assertCode(() => MemFile.create(a, v as never), "EINVAL", re("memfd size"));
    const f = MemFile.create(a, 10);
    assertCode(() => f.write(new Uint8Array(2), v as never), "EINVAL", re("memfd write offset"));
    assertCode(() => f.read(v as never), "EINVAL", re("memfd read offset"));
    assertCode(() => f.resize(v as never), "EINVAL", re("memfd size"));
    assertCode(() => (f.position = v as never), "EINVAL", re("memfd position"));
    assertCode(() => a.alloc(v as never), "EINVAL", re("alloc size"));
    f.close();
  }
  for (const t of [NaN, -1, 1.5, "7", true, null, {}, 2 ** 53, -1n, 1n << 64n]) {
    assertCode(
      () => luo.createSession("t").preserve(MemFile.create(a), t as never),
      "EINVAL",
      /token/,
    );
    luo.session("t").close();
  }
  assertCode(() => MemFile.from(a, "text" as never), "EINVAL", /must be a Uint8Array, got string/);
  assertCode(() => LiveUpdate.create({ size: 1.5 }), "EINVAL", /arena size 1.5/);
  assertCode(() => LiveUpdate.create({ size: 1 << 20, maxBlocks: 0 }), "EINVAL", /maxBlocks 0/);
});

Deno.test("a failed create leaves no file behind, and the retry works", () => {
  const t = tempArena();
  try {
    const broken = { compatible: "broken-v1" } as never; // lacks every op
    assertCode(
      () => LiveUpdate.create({ path: t.path, size: 1 << 20, handlers: [broken] }),
      "EINVAL",
      /lacks the op canPreserve/,
    );
    assert.throws(() => Deno.statSync(t.path), Deno.errors.NotFound);
    LiveUpdate.create({ path: t.path, size: 1 << 20 }).close();
    assert.ok(Deno.statSync(t.path).isFile);
    // Without a path, the temporary file goes too, on failure and on close.
    const shm = testArenaDir();
    const mine = () =>
      [...Deno.readDirSync(shm)].filter((e) => e.name.startsWith(`luo-${Deno.pid}-`)).length;
    const before = mine();
    assertCode(() => LiveUpdate.create({ size: 1 << 20, handlers: [broken] }), "EINVAL");
    assert.equal(mine(), before, "the failed temporary arena was removed");
    const luo = LiveUpdate.create({ size: 1 << 20 });
    assert.equal(mine(), before + 1);
    luo.close();
    assert.equal(mine(), before, "closed without a handover: removed");
  } finally {
    t.cleanup();
  }
});

Deno.test("errors say the truth: a read-only live update, an arena larger than RAM inspected", () => {
  const t = tempArena();
  try {
    LiveUpdate.create({ path: t.path, size: 1 << 20 }).close();
    assertCode(
      () => LiveUpdate.open(t.path, { readOnly: true }),
      "EINVAL",
      /needs arena .* writable; to look inside read-only, use inspectArena/,
    );
    // 1 TiB, sparse: inspection maps it lazily instead of failing with "out of memory".
    const big = `${t.dir}/big.arena`;
    Arena.create({ path: big, size: 2 ** 40, reserve: false }).close();
    const r = inspectArena(big);
    assert.equal(r.header.size, 2 ** 40);
    assert.equal(r.handedOver, false);
  } finally {
    t.cleanup();
  }
});

Deno.test("a closed memory file's views are empty: they cannot write into the next file's pages", () => {
  using arena = Arena.create({ size: 1 << 20 });
  const a = MemFile.from(arena, new TextEncoder().encode("first file"));
  const stale = a.bytes();
  const page = a.extents[0].pa;
  a.close();
  assert.equal(stale.length, 0, "emptied on close");
  const b = MemFile.from(arena, new TextEncoder().encode("second file"));
  assert.equal(b.extents[0].pa, page, "the same page, reused");
  stale[0] = 0x41; // writes nothing
  assert.throws(() => stale.fill(0x41), TypeError, "a detached view refuses bulk writes");
  assert.equal(new TextDecoder().decode(b.read()), "second file");
  const kept = b.bytes();
  arena.close();
  assert.equal(kept.length, 0, "emptied when the arena closes");
});

Deno.test("a name that starts with U+FEFF is handed over as it is, beside the same name without it", () => {
  const t = tempArena();
  try {
    const luo = LiveUpdate.create({ path: t.path, size: 1 << 20 });
    for (const name of ["\uFEFFcache", "cache", "\uFEFF", "important"]) {
      luo.createSession(name).preserve(MemFile.from(luo.arena, new TextEncoder().encode(name)), 1n);
    }
    luo.handover();
    using next = LiveUpdate.open(t.path);
    assert.deepEqual(next.incomingSessions(), ["\uFEFFcache", "cache", "\uFEFF", "important"]);
    for (const name of next.incomingSessions()) {
      const s = next.retrieveSession(name);
      assert.equal(
        new TextDecoder("utf-8", { ignoreBOM: true }).decode(s.retrieve(1n, MemFile).read()),
        name,
      );
      s.finish();
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("options of the wrong kind are EINVAL naming the option, not a silent default", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ size: null }, /arena size null/],
    [{ reserve: "no" }, /option reserve must be a boolean, got string/],
    [{ poison: 1 }, /option poison must be a boolean/],
    [{ path: null }, /option path must be a non-empty string/],
    [{ memfdFormat: "memfd-v3" }, /memfdFormat must be "memfd-v2" or "memfd-v1"/],
  ];
  for (const [options, pattern] of bad) {
    assertCode(
      () => LiveUpdate.create(options as never),
      "EINVAL",
      pattern,
      JSON.stringify(options),
    );
  }
  // Checked before the file is made: nothing to remove afterwards.
  const t = tempArena();
  try {
    const wrong = [{ memfdFormat: "v9" }, { maxBlocks: -1 }, { memfdPopulate: 1 }, {
      handlers: {},
    }];
    for (const o of wrong) {
      assertCode(() => LiveUpdate.create({ path: t.path, ...o } as never), "EINVAL");
      assert.throws(() => Deno.statSync(t.path), Deno.errors.NotFound, JSON.stringify(o));
    }
  } finally {
    t.cleanup();
  }
});

Deno.test("arguments of the wrong kind at every entry point are EINVAL naming the call", () => {
  const notOptions = [null, "/tmp/x.arena", 5, [1]];
  for (const o of notOptions) {
    assertCode(() => LiveUpdate.create(o as never), "EINVAL", /create: options must be an object/);
    assertCode(
      () => LiveUpdate.open("/nonexistent", o as never),
      "EINVAL",
      /options must be an object/,
    );
    assertCode(
      () => LiveUpdate.start("/nonexistent", o as never),
      "EINVAL",
      /options must be an object/,
    );
    assertCode(
      () => inspectArena("/nonexistent", o as never),
      "EINVAL",
      /options must be an object/,
    );
    assertCode(
      () => convertArena("/nonexistent", o as never),
      "EINVAL",
      /options must be an object/,
    );
  }
  for (const p of [123, {}, null, "", undefined]) {
    assertCode(
      () => LiveUpdate.open(p as never),
      "EINVAL",
      /open: the arena path must be a non-empty/,
    );
    assertCode(() => LiveUpdate.start(p as never), "EINVAL", /start: the arena path must be/);
    assertCode(() => Arena.open(p as never), "EINVAL", /open arena: the path must be/);
    assertCode(() => inspectArena(p as never), "EINVAL", /inspect: the arena path must be/);
    assertCode(() => convertArena(p as never), "EINVAL", /convert: the arena path must be/);
  }
  using luo = LiveUpdate.create({ size: 1 << 20 });
  for (const a of [null, 5, {}, luo]) {
    assertCode(() => MemFile.create(a as never, 10), "EINVAL", /memfd create: expected an Arena/);
    assertCode(() => PreservedMap.create(a as never), "EINVAL", /map create: expected an Arena/);
    assertCode(
      () =>
        preserveManifest(luo.createSession("m"), a as never, {
          service: "s",
          generation: 1,
          entries: {},
        }),
      "EINVAL",
      /preserveManifest: expected an Arena/,
    );
    luo.session("m").close();
  }
  const s = luo.createSession("m");
  const manifests = [5, { service: 1 }, { service: "s", generation: 0 }, {
    service: "s",
    generation: 1,
    entries: { "1": {} },
  }];
  for (const m of manifests) {
    assertCode(() => preserveManifest(s, luo.arena, m as never), "EINVAL", /preserveManifest: /);
  }
  assertCode(
    () => preserveManifest(5 as never, luo.arena, {} as never),
    "EINVAL",
    /OutgoingSession/,
  );
  assertCode(() => readManifest(undefined as never, []), "EINVAL", /expected an IncomingSession/);
  assertCode(() => PreservedMap.create(luo.arena, null as never), "EINVAL", /map create: options/);
  assertCode(() => luo.arena.free(-1n), "EINVAL", /physical address -1n is outside the u64 range/);
  assertCode(
    () => LiveUpdate.create({ size: 2 ** 60 }),
    "EINVAL",
    /arena size 1152921504606847000 is beyond 2\^53/,
  );
  assertCode(
    () => MemFile.create(luo.arena, 4 << 20),
    "EFBIG",
    /memfd size 4194304: larger than the arena \(1048576 bytes\)/,
  );
});
