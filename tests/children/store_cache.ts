// Child process of tests/library_cache_test.ts, run as another user: stores
// this platform's library in the download cache of $DENO_DIR (the package in
// this checkout, as a JSR import's first run would) and prints one JSON
// line: the stored file, or the error met.
import { ASKING } from "../../lib/kho/access.ts";
import { platformName, prebuiltFor } from "../../lib/kho/library.ts";
import { storeInCache } from "../../lib/kho/library_cache.ts";

const lib = prebuiltFor();
try {
  const bytes = Deno.readFileSync(new URL(`../../${lib.file}`, import.meta.url));
  console.log(JSON.stringify({ path: storeInCache(lib, platformName(), bytes, ASKING) }));
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message } }));
  Deno.exit(1);
}
