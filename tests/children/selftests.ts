// Child of tests/selftests_test.ts: ports of the kernel's liveupdate
// selftests, each as "write" (preserve, hand over, exit) and "verify" (a new
// process: retrieve, check every byte and name, finish, no page left).
//   deno run -A selftests.ts write|verify CASE PATH
import { LiveUpdate, MemFile } from "../../mod.ts";

const [stage, name, path] = Deno.args;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Sessions of each case: name -> file contents by token. */
const CASES: Record<string, () => [string, string[]][]> = {
  // luo_stress_sessions: 2,000 empty sessions.
  "stress-sessions": () => Array.from({ length: 2000 }, (_, i) => [`stress-${i}`, []]),
  // luo_multi_session: two empty sessions, a 1-file and a 2-file session.
  "multi-session": () => [
    ["multi-test-empty-1", []],
    ["multi-test-empty-2", []],
    ["multi-test-files-1", ["one file"]],
    ["multi-test-files-2", ["first of two", "second of two"]],
  ],
  // get_session_name_max_length: 63 bytes, multi-byte characters.
  "name-max": () => [
    ["n".repeat(63), ["ascii name of 63 bytes"]],
    ["é".repeat(31) + "x", ["31 two-byte characters and one byte"]],
    ["🙂".repeat(15) + "abc", ["15 four-byte characters and three bytes"]],
    ["日本語のセッション名", ["three-byte characters"]],
  ],
};

function fail(msg: string): never {
  console.error(`selftest ${name}: ${msg}`);
  Deno.exit(1);
}

const sessions = CASES[name]?.() ?? fail("unknown case");
if (stage === "write") {
  const luo = LiveUpdate.create({ path, size: 16 << 20 });
  for (const [s, files] of sessions) {
    const out = luo.createSession(s);
    files.forEach((text, t) => out.preserve(MemFile.from(luo.arena, enc.encode(text)), t));
  }
  console.log(JSON.stringify(luo.handover(), (_k, v) => (typeof v === "bigint" ? String(v) : v)));
} else if (stage === "verify") {
  using luo = LiveUpdate.open(path, { poison: true });
  const names = luo.incomingSessions();
  if (JSON.stringify(names) !== JSON.stringify(sessions.map(([s]) => s))) fail(`names ${names}`);
  for (const [s, files] of sessions) {
    const incoming = luo.retrieveSession(s);
    if (incoming.fileCount !== files.length) fail(`${s}: ${incoming.fileCount} files`);
    files.forEach((text, t) => {
      const f = incoming.retrieve(t, MemFile);
      const got = dec.decode(f.read());
      if (got !== text) fail(`${s}/${t}: "${got}"`);
      f.close();
    });
    incoming.finish();
  }
  luo.discardIncoming();
  const i = luo.arena.info();
  const inUse = i.allocatedPages + i.handedOverPages + i.deferredPages;
  if (inUse !== 0) fail(`${inUse} pages still in use`);
  console.log(JSON.stringify({ sessions: names.length, number: String(luo.incomingNumber) }));
}
