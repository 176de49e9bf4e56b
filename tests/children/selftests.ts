// Child of tests/selftests_test.ts: ports of the kernel's liveupdate
// selftests, each as "write" (preserve, hand over, exit) and "verify" (a new
// process: retrieve, check every byte and name, finish, no page left).
//   deno run -A selftests.ts write|verify CASE PATH
// Case "double-preservation" (prevent_double_preservation, second half): write
// preserves one memfd as token 1, then the same memfd as token 2 in the same
// session (must be EBUSY), and hands over; verify finds token 1 only.
import { LiveUpdate, LiveUpdateError, MemFile } from "../../mod.ts";

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

/** The bytes of the one memfd of "double-preservation". */
const ONCE = "preserved once, under token 1";

/** Writes "double-preservation"; prints the code of the second preserve and the handover. */
function writeDouble(): void {
  const luo = LiveUpdate.create({ path, size: 1 << 20 });
  const s = luo.createSession("double");
  const f = MemFile.from(luo.arena, enc.encode(ONCE));
  s.preserve(f, 1);
  let second = "accepted";
  try {
    s.preserve(f, 2);
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) throw e;
    second = `${e.code}: ${e.message}`;
  }
  const { liveupdateNumber } = luo.handover();
  console.log(JSON.stringify({ second, number: String(liveupdateNumber) }));
}

/** Verifies "double-preservation" in the successor: token 1 and its bytes only. */
function verifyDouble(): void {
  using luo = LiveUpdate.open(path, { poison: true });
  const s = luo.retrieveSession("double");
  const tokens = s.tokens().map(String);
  let two = "found";
  try {
    s.retrieve(2);
  } catch (e) {
    if (!(e instanceof LiveUpdateError)) throw e;
    two = e.code;
  }
  const bytes = dec.decode(s.retrieve(1, MemFile).read());
  s.finish();
  console.log(JSON.stringify({ tokens, two, bytesOk: bytes === ONCE }));
}

if (name === "double-preservation") {
  if (stage === "write") writeDouble();
  else if (stage === "verify") verifyDouble();
  else fail(`unknown stage ${stage}`);
  Deno.exit(0);
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
