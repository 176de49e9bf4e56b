import assert from "node:assert/strict";
import {
  child,
  getString,
  getU64,
  node,
  readFdt,
  strProp,
  u64Prop,
  writeFdt,
} from "../lib/format/fdt.ts";
import { khoFdt, luoFdt } from "../lib/format/roots.ts";
import { CorruptImageError } from "../lib/errors.ts";

function hasDtc(): boolean {
  try {
    new Deno.Command("dtc", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

/** How dtc prints an 8-byte property holding `v` little-endian: two big-endian cells. */
function cells(v: bigint): string {
  const b = u64Prop(v);
  const dv = new DataView(b.buffer);
  return `<0x${dv.getUint32(0).toString(16)} 0x${dv.getUint32(4).toString(16)}>`.replaceAll(
    "0x0>",
    "0x00>",
  );
}

async function dtc(blob: Uint8Array): Promise<string> {
  const p = new Deno.Command("dtc", {
    args: ["-I", "dtb", "-O", "dts", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(blob);
  await w.close();
  const out = await p.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test("fdt: write then read gives the same tree", () => {
  const tree = node("", { compatible: strProp("x-v1"), n: u64Prop(0x1122334455667788n) }, [
    node("a", { "long-property-name": new Uint8Array([1, 2, 3]) }, [node("b")]),
    node("c", { compatible: strProp("y") }),
  ]);
  const back = readFdt(writeFdt(tree), "test");
  assert.equal(getString(back, "compatible"), "x-v1");
  assert.equal(getU64(back, "n"), 0x1122334455667788n);
  assert.deepEqual([...child(back, "a")!.props.get("long-property-name")!], [1, 2, 3]);
  assert.equal(child(child(back, "a")!, "b")!.name, "b");
  assert.equal(getString(child(back, "c")!, "compatible"), "y");
});

Deno.test({
  name: "fdt: dtc decodes the KHO and LUO trees with their nodes, compatibles and properties",
  ignore: !hasDtc(),
  fn: async () => {
    const kho = await dtc(khoFdt(0x100004000n));
    assert.match(kho, /\/dts-v1\/;/);
    assert.match(kho, /compatible = "kho-v1";/);
    // u64 0x100004000 as 8 little-endian bytes.
    assert.ok(kho.includes(`LUO {\n\t\tfdt = ${cells(0x100004000n)};\n\t};`), kho);
    const luo = await dtc(luoFdt({ liveupdateNumber: 7n, sessionHeader: 0x100010000n }));
    assert.match(luo, /compatible = "luo-v1";/);
    assert.ok(luo.includes(`liveupdate-number = ${cells(7n)};`), luo);
    assert.ok(
      luo.includes(
        `luo-session {\n\t\tcompatible = "luo-session-v4";\n\t\tluo-session-header = ${
          cells(0x100010000n)
        };\n\t};`,
      ),
      luo,
    );
  },
});

Deno.test("fdt: damaged blobs give CorruptImageError naming the problem", () => {
  const good = luoFdt({ liveupdateNumber: 1n, sessionHeader: 0n });
  const cases: [string, (b: Uint8Array, dv: DataView) => void, RegExp][] = [
    ["magic", (_b, dv) => dv.setUint32(0, 0x12345678), /bad magic/],
    ["totalsize", (_b, dv) => dv.setUint32(4, 1 << 30), /totalsize/],
    ["version", (_b, dv) => dv.setUint32(20, 1), /version 1/],
    ["struct offset", (_b, dv) => dv.setUint32(8, 0xffff0), /structure block/],
    ["strings size", (_b, dv) => dv.setUint32(32, 0xffff), /strings block/],
    ["token", (_b, dv) => dv.setUint32(dv.getUint32(8), 0x77), /unknown token 0x77/],
    ["truncated struct", (_b, dv) => dv.setUint32(36, 8), /no end token|ends inside|NUL/],
  ];
  for (const [what, damage, pattern] of cases) {
    const b = good.slice();
    damage(b, new DataView(b.buffer));
    assert.throws(() => readFdt(b, 0x1000n), (e) => {
      assert.ok(e instanceof CorruptImageError, `${what}: ${e}`);
      assert.match(e.message, pattern, what);
      assert.match(e.message, /at 0x1000/);
      return true;
    });
  }
});
