// The previous format, luo-session-v3: images built byte by byte here,
// restored directly and after `convert` to v4; unknown formats refused.
import assert from "node:assert/strict";
import { Arena, LiveUpdate, type MemFile } from "../mod.ts";
import { convertArena } from "../lib/convert.ts";
import { node, strProp, u64Prop, writeFdt } from "../lib/fdt.ts";
import { khoFdt } from "../lib/image.ts";
import { inspectArena } from "../lib/inspect.ts";
import { assertCode, runDeno, runOk, tempArena } from "./helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface V3File {
  token: bigint;
  text: string;
}

/** Writes a v3 image by hand: session block, file arrays, memfd descriptors, FDTs. */
function buildV3(
  path: string,
  sessions: { name: string; files: V3File[] }[],
  format = "luo-session-v3",
): Map<string, bigint> {
  const dataPages = new Map<string, bigint>();
  using a = Arena.create({ path, size: 8 << 20 });
  const sessBlock = a.allocPreserve(65536);
  const sb = a.view(sessBlock, 65536);
  sb.setBigUint64(0, BigInt(sessions.length), true);
  for (const [i, s] of sessions.entries()) {
    const e = 8 + i * 80;
    a.bytes(sessBlock + BigInt(e), 64).set(enc.encode(s.name)); // NUL-padded: the page is zeroed below
    let arr = 0n;
    if (s.files.length) {
      arr = a.allocPreserve(8192);
      a.bytes(arr, 8192).fill(0);
      for (const [k, f] of s.files.entries()) {
        const fe = arr + BigInt(k * 64);
        a.bytes(fe, 48).set(enc.encode("memfd-v1"));
        // memfd-v1 descriptor, extent block and data, by hand.
        const body = enc.encode(f.text);
        const desc = a.allocPreserve(4096);
        const dv = a.view(desc, 32);
        dv.setBigUint64(0, BigInt(body.length), true);
        dv.setBigUint64(8, 0n, true);
        if (body.length) {
          const data = a.allocPreserve(body.length);
          a.bytes(data, body.length).set(body);
          dataPages.set(`${s.name}/${f.token}`, data);
          const ext = a.allocPreserve(4096);
          const ev = a.view(ext, 32);
          ev.setBigUint64(0, 0n, true);
          ev.setBigUint64(8, 1n, true);
          ev.setBigUint64(16, data, true);
          ev.setBigUint64(
            24,
            BigInt(2 ** Math.ceil(Math.log2(Math.ceil(body.length / 4096)))),
            true,
          );
          dv.setBigUint64(16, ext, true);
          dv.setBigUint64(24, 1n, true);
        } else {
          dv.setBigUint64(16, 0n, true);
          dv.setBigUint64(24, 0n, true);
        }
        a.view(fe, 64).setBigUint64(48, desc, true);
        a.view(fe, 64).setBigUint64(56, f.token, true);
      }
    }
    sb.setBigUint64(e + 64, arr, true);
    sb.setBigUint64(e + 72, BigInt(s.files.length), true);
  }
  const luo = writeFdt(
    node("", { compatible: strProp("luo-v1"), "liveupdate-number": u64Prop(5n) }, [
      node("luo-session", {
        compatible: strProp(format),
        "luo-session-header": u64Prop(sessBlock),
      }),
    ]),
  );
  const luoPa = a.allocPreserve(4096);
  a.bytes(luoPa, luo.length).set(luo);
  const kho = khoFdt(luoPa);
  const root = a.allocPreserve(4096);
  a.bytes(root, kho.length).set(kho);
  a.handover(root);
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
      const m = is.retrieve(f.token) as MemFile;
      assert.equal(dec.decode(m.read()), f.text, `${s.name}/${f.token}`);
      if (f.text) {
        assert.equal(m.extents[0].pa, dataPages.get(`${s.name}/${f.token}`), "same pages: no copy");
      }
      m.close();
    }
    is.finish();
  }
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
    assert.match(r.stdout, /luo-session-v3 -> luo-session-v4, 3 sessions, 131 files/);
    assert.match(
      (await runOk(cli, ["convert", t.path])).stdout,
      /is luo-session-v4 already; nothing to do/,
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
