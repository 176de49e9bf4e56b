// Child of tests/start_test.ts: one service starting with LiveUpdate.start.
// Prints {"ok":true,"resumed":...} or {"code":...}; a starter that got the
// arena holds it until its stdin closes (so the others find it held).
import { LiveUpdate, LiveUpdateError } from "../../mod.ts";

const path = Deno.args[0];
let luo: LiveUpdate | undefined;
try {
  luo = LiveUpdate.start(path, { size: 1 << 20 });
  console.log(JSON.stringify({ ok: true, resumed: luo.resumed }));
} catch (e) {
  if (!(e instanceof LiveUpdateError)) throw e;
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}
await Deno.stdin.readable.pipeTo(new WritableStream()); // until the parent closes it
luo?.close();
