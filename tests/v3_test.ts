// The previous format, luo-session-v3: images written by the format's writer,
// restored directly and after `convert` to v4; unknown formats refused.
import assert from "node:assert/strict";
import { LiveUpdate, MemFile } from "../mod.ts";
import { Arena } from "../kho.ts";
import { convertArena, inspectArena } from "../tools.ts";
import { BlockChain } from "../lib/format/block.ts";
import {
  EXTENT_CHAIN,
  MEMFD_DESCRIPTOR_BYTES,
  writeExtents,
  writeMemfdDescriptor,
} from "../lib/format/memfd_ser.ts";
import { placeRoots } from "../lib/format/roots.ts";
import { writeV3Sessions } from "../lib/format/v3.ts";
import { assertCode } from "../testing/assert_code.ts";
import { runDeno, runOk } from "../testing/child_process.ts";
import { tempArena } from "../testing/temp_arena.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface TextFile {
  token: bigint;
  text: string;
}

/** A memfd-v1 descriptor of `body` in preserved pages (descriptor, extent block, data). */
function memfdOf(a: Arena, body: Uint8Array): { desc: bigint; data: bigint } {
  const desc = a.allocPreserve(MEMFD_DESCRIPTOR_BYTES, { zero: true });
  if (!body.length) {
    writeMemfdDescriptor(a, desc, { size: 0, pos: 0, extentsPa: 0n, nextents: 0 });
    return { desc, data: 0n };
  }
  const data = a.allocRegion(body.length);
  a.preserve(data.pa, data.pages * 4096);
  a.bytes(data.pa, body.length).set(body);
  const chain = BlockChain.outgoing(a, EXTENT_CHAIN, 4);
  chain.reserve(1);
  writeExtents(chain, [data]);
  writeMemfdDescriptor(a, desc, { size: body.length, pos: 0, extentsPa: chain.head, nextents: 1 });
  return { desc, data: data.pa };
}

/** Writes a v3 image with the format's writer: session block, file arrays, memfd files, FDTs. */
function buildV3(
  path: string,
  sessions: { name: string; files: TextFile[] }[],
  format = "luo-session-v3",
): Map<string, bigint> {
  const dataPages = new Map<string, bigint>();
  using a = Arena.create({ path, size: 8 << 20 });
  const header = writeV3Sessions(
    a,
    sessions.map((s) => ({
      name: s.name,
      files: s.files.map((f) => {
        const { desc, data } = memfdOf(a, enc.encode(f.text));
        if (data) dataPages.set(`${s.name}/${f.token}`, data);
        return { compatible: "memfd-v1", data: desc, token: f.token };
      }),
    })),
  );
  a.handover(placeRoots(a, { liveupdateNumber: 5n, sessionHeader: header, format }, []));
  return dataPages;
}

const SESSIONS = [
  {
    name: "alpha",
    files: [{ token: 1n, text: "first file" }, { token: 7n, text: "" }, {
      token: 2n ** 63n,
      text: "x".repeat(10000),
    }],
  },
  { name: "empty", files: [] },
  {
    name: "full",
    files: Array.from({ length: 128 }, (_, k) => ({ token: BigInt(k), text: `full ${k}` })),
  },
];

function verify(path: string, dataPages: Map<string, bigint>): void {
  using luo = LiveUpdate.open(path, { poison: true });
  assert.equal(luo.incomingNumber, 5n);
  assert.deepEqual(luo.incomingSessions(), SESSIONS.map((s) => s.name));
  for (const s of SESSIONS) {
    const is = luo.retrieveSession(s.name);
    assert.deepEqual(is.tokens(), s.files.map((f) => f.token));
    for (const f of s.files) {
      const m = is.retrieve(f.token, MemFile);
      assert.equal(dec.decode(m.read()), f.text, `${s.name}/${f.token}`);
      if (f.text) {
        assert.equal(m.extents[0].pa, dataPages.get(`${s.name}/${f.token}`), "same pages: no copy");
      }
      m.close();
    }
    is.finish();
  }
  luo.discardIncoming();
  const i = luo.arena.info();
  assert.equal(i.allocatedPages + i.handedOverPages + i.deferredPages, 0);
}

Deno.test("v3: a hand-built single-block image restores: names, tokens, bytes, number", () => {
  const t = tempArena();
  try {
    const pages = buildV3(t.path, SESSIONS);
    assert.equal(inspectArena(t.path).format, "luo-session-v3");
    verify(t.path, pages);
  } finally {
    t.cleanup();
  }
});

Deno.test("v3: convert rewrites it as v4 in place, without copying data; twice is a no-op", () => {
  const t = tempArena();
  try {
    const pages = buildV3(t.path, SESSIONS);
    const r = convertArena(t.path);
    assert.deepEqual(r, {
      from: "luo-session-v3",
      to: "luo-session-v4",
      sessions: 3,
      files: 131,
      memfdConverted: 131,
      rewritten: true,
      liveupdateNumber: 5n,
    });
    const report = inspectArena(t.path);
    assert.equal(report.format, "luo-session-v4");
    assert.deepEqual(report.sessions!.find((s) => s.name === "full")!.fileBlocks, [127, 1]);
    assert.deepEqual(report.unclaimed, []);
    assert.deepEqual(convertArena(t.path).to, "luo-session-v4");
    verify(t.path, pages);
  } finally {
    t.cleanup();
  }
});

Deno.test("v3: over 128 files in a session is refused with a typed error naming where", () => {
  const t = tempArena();
  try {
    buildV3(t.path, SESSIONS);
    // Raise the count of session "full" to 129 in the file itself.
    const bytes = Deno.readFileSync(t.path);
    const name = enc.encode("full\0");
    let at = -1;
    for (let i = 4096; i < bytes.length && at < 0; i += 8) {
      if (name.every((b, k) => bytes[i + k] === b)) at = i;
    }
    new DataView(bytes.buffer).setBigUint64(at + 72, 129n, true);
    Deno.writeFileSync(t.path, bytes);
    using luo = LiveUpdate.open(t.path);
    assertCode(
      () => luo.incomingSessions(),
      "EIO",
      /v3 session "full": 129 files, at most 128 \(at 0x[0-9a-f]+\)/,
    );
  } finally {
    t.cleanup();
  }
});

Deno.test("an unknown session format is refused naming the version found and the supported ones", () => {
  const t = tempArena();
  try {
    buildV3(t.path, SESSIONS, "luo-session-v9");
    using luo = LiveUpdate.open(t.path);
    assertCode(
      () => luo.incomingSessions(),
      "EIO",
      /compatible "luo-session-v9" is not supported; this build reads luo-session-v4, luo-session-v3/,
    );
    luo.close();
    assertCode(() => convertArena(t.path), "EPROTO", /luo-session-v9/);
  } finally {
    t.cleanup();
  }
});

Deno.test("cli: convert, and its errors", async () => {
  const t = tempArena();
  try {
    buildV3(t.path, SESSIONS);
    const cli = new URL("../cli.ts", import.meta.url);
    const r = await runOk(cli, ["convert", t.path]);
    assert.match(
      r.stdout,
      /luo-session-v3 -> luo-session-v4, 3 sessions, 131 files, 131 memfd-v1 -> memfd-v2/,
    );
    assert.match(
      (await runOk(cli, ["convert", t.path])).stdout,
      /is luo-session-v4 with no memfd-v1 file; nothing to do/,
    );
    const missing = await runDeno(cli, ["convert", `${t.dir}/missing.arena`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^luo: ENOENT: open arena/);
    const usage = await runDeno(cli, ["convert"]);
    assert.equal(usage.code, 2);
  } finally {
    t.cleanup();
  }
});
