// Source files stay a screenful of concepts: at most 400 lines of code each
// in lib/, native/, cli/ and the entry points. Comments do not count, so
// that JSDoc examples on every export (dev/doc_coverage.ts) cost nothing.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const MAX_CODE_LINES = 400;

function* sources(dir: string, ext: string): Generator<string> {
  for (const e of Deno.readDirSync(new URL(dir, ROOT))) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory && e.name !== "prebuilt") yield* sources(`${path}/`, ext);
    else if (e.isFile && e.name.endsWith(ext)) yield path;
  }
}

/** Lines that are neither blank nor comment (`//`, `///`, `//!`, or inside a block comment). */
function codeLines(text: string): number {
  let n = 0;
  let inBlock = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (inBlock) {
      inBlock = !line.includes("*/");
      continue;
    }
    if (line.startsWith("/*")) {
      inBlock = !line.includes("*/");
      continue;
    }
    if (line !== "" && !line.startsWith("//")) n++;
  }
  return n;
}

Deno.test("size: code lines are counted without comments", () => {
  assert.equal(codeLines("/**\n * doc\n */\nconst a = 1; // x\n\n// c\nfoo();\n"), 2);
});

Deno.test("size: no source file has more than 400 lines of code", () => {
  const files = [
    ...sources("lib/", ".ts"),
    ...sources("native/", ".zig"),
    ...sources("cli/", ".ts"),
    "mod.ts",
    "tools.ts",
    "kho.ts",
    "cli.ts",
  ];
  assert.ok(files.length > 50, `${files.length} files found`);
  const big = files
    .map((f) => [f, codeLines(Deno.readTextFileSync(new URL(f, ROOT)))] as const)
    .filter(([, n]) => n > MAX_CODE_LINES)
    .map(([f, n]) => `${f}: ${n} lines of code`);
  assert.deepEqual(big, []);
});
