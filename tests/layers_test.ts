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

/** The local import graph of `entry` as `deno info --json` gives it: code and type edges. */
async function importGraph(entry: string): Promise<Map<string, string[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(`../${entry}`, import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  type Dep = { code?: { specifier?: string }; type?: { specifier?: string } };
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const graph = new Map<string, string[]>();
  for (const m of info.modules) {
    if (!m.specifier.startsWith("file:")) continue;
    const deps = (m.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier]);
    graph.set(m.specifier, [...new Set(deps.filter((s) => s?.startsWith("file:")))] as string[]);
  }
  return graph;
}

/** One cycle of `graph` as the list of its modules, or undefined (depth-first, colours). */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (v: string): string[] | undefined => {
    state.set(v, "open");
    path.push(v);
    for (const w of graph.get(v) ?? []) {
      if (state.get(w) === "open") return path.slice(path.indexOf(w));
      if (state.get(w) === undefined) {
        const c = visit(w);
        if (c) return c;
      }
    }
    path.pop();
    state.set(v, "done");
    return undefined;
  };
  for (const v of graph.keys()) {
    if (state.get(v) !== undefined) continue;
    const c = visit(v);
    if (c) return c;
  }
  return undefined;
}

Deno.test("layers: no import cycle from any entry point, type imports included (deno info)", async () => {
  const root = new URL("../", import.meta.url).href;
  for (const entry of ["mod.ts", "tools.ts", "kho.ts", "cli.ts"]) {
    const graph = await importGraph(entry);
    assert.ok(graph.size > 10, `${entry}: only ${graph.size} modules`);
    const cycle = findCycle(graph)?.map((s) => s.replace(root, ""));
    assert.equal(cycle, undefined, `${entry}: ${cycle?.join(" -> ")}`);
  }
});
