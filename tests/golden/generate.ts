// Writes the golden arena (tests/golden_test.ts) with the code of the
// checkout it runs in: deno run -A tests/golden/generate.ts PATH
import { LiveUpdate, MemFile, Value } from "../../mod.ts";
const path = Deno.args[0];
const luo = LiveUpdate.create({ path, size: 4 << 20, memfdFormat: "memfd-v1" });
const enc = new TextEncoder();
const a = luo.createSession("alpha");
a.preserve(MemFile.from(luo.arena, enc.encode("hello, golden successor")), 1n);
const big = MemFile.create(luo.arena, 10000);
big.write(new Uint8Array(10000).map((_, i) => (i * 7) & 0xff), 0);
big.position = 1234;
a.preserve(big, 2n ** 63n);
a.preserve(MemFile.create(luo.arena), 7n);
const b = luo.createSession("beta-" + "x".repeat(58));
b.preserve(new Value(new Map<string, unknown>([["n", 42], ["list", [1, 2, 3]]])), 0n);
luo.createSession("empty");
const many = luo.createSession("many");
for (let i = 0; i < 130; i++) {
  many.preserve(MemFile.from(luo.arena, enc.encode(`file ${i}`)), BigInt(i * 3));
}
luo.handover();
