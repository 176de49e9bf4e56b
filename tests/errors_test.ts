// The one table of error codes: every errno the native layer can return
// (native/errors.zig errnoOf) has its entry in ERRORS, so that no native
// failure reaches a user as "native error -N".
import assert from "node:assert/strict";
import { codeOfNative, ERRORS } from "../lib/errors.ts";

Deno.test("ERRORS has every errno the native layer returns", () => {
  const zig = Deno.readTextFileSync(new URL("../native/errors.zig", import.meta.url));
  const body = zig.slice(zig.indexOf("pub fn errnoOf"), zig.indexOf("pub fn code"));
  const names = [...body.matchAll(/Err\.\w+ => \.([A-Z]+),/g)].map((m) => `E${m[1]}`);
  assert.ok(names.length >= 20, `found only ${names.length} errnos in native/errors.zig`);
  for (const name of names) assert.ok(name in ERRORS, `${name} is missing from ERRORS`);
  const errnos = Object.values(ERRORS).map((e) => e.errno);
  assert.equal(new Set(errnos).size, errnos.length, "two codes share an errno");
  for (const [code, e] of Object.entries(ERRORS)) assert.equal(codeOfNative(-e.errno), code);
});
