// Child of tests/kho_file_test.ts: one arena call as a separate process (as
// another user, in its own mount namespace, or racing others), printing its
// outcome as one JSON line: {"ok":true,...} or {"code":"E...","message":"..."}.
//   create PATH SIZE OPTIONS_JSON   Arena.create, then close (the file stays)
//   open PATH OPTIONS_JSON          Arena.open, then close
//   start PATH                      create, or on EEXIST open (a starter racing others)
import { Arena } from "../../lib/kho/arena.ts";
import { LiveUpdateError } from "../../lib/errors.ts";

const [command, path, ...rest] = Deno.args;

function outcome(fn: () => Arena): string {
  try {
    const arena = fn();
    const result = { ok: true, handovers: String(arena.info().handovers) };
    arena.close();
    return JSON.stringify(result);
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) throw e;
    return JSON.stringify({ code: e.code, message: e.message });
  }
}

if (command === "create") {
  const size = Number(rest[0]);
  console.log(outcome(() => Arena.create({ path, size, ...JSON.parse(rest[1] ?? "{}") })));
} else if (command === "open") {
  console.log(outcome(() => Arena.open(path, JSON.parse(rest[0] ?? "{}"))));
} else if (command === "start") {
  let created = false;
  const result = outcome(() => {
    try {
      const arena = Arena.create({ path, size: 1 << 20 });
      created = true;
      return arena;
    } catch (e) {
      if (!(e instanceof LiveUpdateError) || e.code !== "EEXIST") throw e;
      return Arena.open(path);
    }
  });
  console.log(JSON.stringify({ ...JSON.parse(result), created }));
} else {
  throw new Error(`unknown command ${command}`);
}
