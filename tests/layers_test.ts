// The layers of lib/ import only downwards: kho <- format <- luo <- handlers
// <- service, tools (errors.ts is below all of them). Raw pointers stay in
// lib/kho/. A file that breaks either rule fails here, naming the import.
import assert from "node:assert/strict";

const LIB = new URL("../lib/", import.meta.url);
/** Each folder's rank: a file may import from its own folder or a lower rank. */
const RANK: Record<string, number> = {
  "errors.ts": 0,
  kho: 1,
  format: 2,
  luo: 3,
  handlers: 4,
  service: 5,
  tools: 5,
};

function* files(dir: URL, prefix = ""): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) yield* files(new URL(`${e.name}/`, dir), `${prefix}${e.name}/`);
    else if (e.name.endsWith(".ts")) yield `${prefix}${e.name}`;
  }
}

/** The lib-relative paths a file imports (static imports of relative paths). */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(new URL(file, LIB));
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^;]*? from "(\.{1,2}\/[^"]+)";/gms)) {
    const target = new URL(m[1], new URL(file, LIB)).pathname;
    if (target.startsWith(LIB.pathname)) out.push(target.slice(LIB.pathname.length));
  }
  return out;
}

Deno.test("layers: lib folders import only from their own folder or a lower layer", () => {
  const wrong: string[] = [];
  for (const file of files(LIB)) {
    const from = file.split("/")[0];
    assert.ok(from in RANK, `lib/${file}: folder ${from} has no layer in this test`);
    for (const target of importsOf(file)) {
      const to = target.split("/")[0];
      if (to !== from && !(RANK[to] < RANK[from])) wrong.push(`lib/${file} imports lib/${target}`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("layers: raw pointers (Deno.UnsafePointer*) only in lib/kho/", () => {
  const wrong = [...files(LIB)].filter((f) =>
    !f.startsWith("kho/") && /Deno\.UnsafePointer/.test(Deno.readTextFileSync(new URL(f, LIB)))
  );
  assert.deepEqual(wrong, []);
});
