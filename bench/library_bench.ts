// Loading the native library as a JSR user's process does: the first run
// downloads it (here from a package server on 127.0.0.1), checks its SHA-256
// and stores it atomically; later runs check the cached file and dlopen it.
// Ratios to "later run: check the cached file" (baseline).
import { symbols } from "../lib/kho/symbols.ts";
import { platformName, prebuiltFor } from "../lib/kho/library.ts";
import { CACHE_NAME, cachedLibrary, downloadToCache } from "../lib/kho/library_cache.ts";
import { readPackage, servePackage } from "../testing/package_server.ts";

const lib = prebuiltFor();
const platform = platformName();
const server = servePackage(readPackage([lib.file]));
const dir = Deno.makeTempDirSync({ prefix: "luo-bench-lib-" });
Deno.env.set("DENO_DIR", dir);
await downloadToCache(lib, platform, new URL(server.url));
addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench({
  name: "first run: download, check SHA-256, store atomically",
  group: "library",
  async fn(b) {
    Deno.removeSync(`${dir}/${CACHE_NAME}`, { recursive: true });
    b.start();
    await downloadToCache(lib, platform, new URL(server.url));
    b.end();
  },
});

Deno.bench({
  name: "later run: check the cached file (read, SHA-256)",
  group: "library",
  baseline: true,
  fn() {
    if (cachedLibrary(lib, platform, true) === undefined) throw new Error("not cached");
  },
});

Deno.bench({
  name: "later run: check the cached file, dlopen, close",
  group: "library",
  fn() {
    const path = cachedLibrary(lib, platform, true);
    if (path === undefined) throw new Error("not cached");
    Deno.dlopen(path, symbols).close();
  },
});
