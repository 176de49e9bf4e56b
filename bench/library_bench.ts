// Loading the native library as a JSR user's process does: the first run
// downloads it (here from a package server on 127.0.0.1), checks its SHA-256
// and stores it atomically; later runs check the cached file (who can change
// it, its SHA-256) and dlopen it.
// Ratios to "later run: check the cached file" (baseline).
import { symbols } from "../lib/kho/symbols.ts";
import { ASKING } from "../lib/kho/access.ts";
import { readVerified, verifyBytes } from "../lib/kho/checksum.ts";
import { download, DOWNLOAD_TIMEOUT_MS } from "../lib/kho/download.ts";
import { platformName, prebuiltFor } from "../lib/kho/library.ts";
import { CACHE_NAME, cachedLibrary, storeInCache } from "../lib/kho/library_cache.ts";
import { readPackage, servePackage } from "../testing/package_server.ts";

const lib = prebuiltFor();
const platform = platformName();
const server = servePackage(readPackage([lib.file]));
const url = new URL(lib.file, server.url);
const dir = Deno.makeTempDirSync({ prefix: "luo-bench-lib-" });
Deno.env.set("DENO_DIR", dir);

async function downloadToCache(): Promise<void> {
  const bytes = await download(url, lib.size, ASKING, DOWNLOAD_TIMEOUT_MS);
  verifyBytes(bytes, lib, url.href);
  storeInCache(lib, platform, bytes, ASKING);
}

/** The cached file after checking who can change it and its bytes. */
function checkedCachedFile(): string {
  const path = cachedLibrary(lib, platform, ASKING);
  if (path === undefined || readVerified(path, lib) === undefined) throw new Error("not cached");
  return path;
}

await downloadToCache();
addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench({
  name: "first run: download, check SHA-256, store atomically",
  group: "library",
  async fn(b) {
    Deno.removeSync(`${dir}/${CACHE_NAME}`, { recursive: true });
    b.start();
    await downloadToCache();
    b.end();
  },
});

Deno.bench({
  name: "later run: check the cached file (owners and modes, read, SHA-256)",
  group: "library",
  baseline: true,
  fn() {
    checkedCachedFile();
  },
});

Deno.bench({
  name: "later run: check the cached file, dlopen, close",
  group: "library",
  fn() {
    Deno.dlopen(checkedCachedFile(), symbols).close();
  },
});
