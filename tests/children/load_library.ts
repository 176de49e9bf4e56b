// Child process of tests/library_test.ts: creates an arena through the
// package in this checkout (a file: URL) with whatever permissions the test
// gave, and prints one JSON line: the arena path, or the error met.
//   path ARENA   create the arena at ARENA
//   temp         create a temporary arena (no path)
import { Arena } from "../../kho.ts";

const [mode, path] = Deno.args;
try {
  const arena = Arena.create(mode === "path" ? { path, size: 1 << 20 } : { size: 1 << 20 });
  console.log(JSON.stringify({ path: arena.path }));
  arena.close();
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message } }));
  Deno.exit(1);
}
