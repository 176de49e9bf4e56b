// A service as a JSR user writes it, run by tests/jsr_test.ts from a temp
// dir outside the repository: it imports the package by URL (the first
// argument, ending in "/") and never imports anything of the repository.
//   a PKG ARENA BYTES [LIB]   preserve a MemFile of BYTES patterned bytes, hand over
//   b PKG ARENA BYTES [LIB]   retrieve it, verify every byte, finish
// LIB, when given, is the `library` option (else the package finds its own).
// Prints one JSON line: what it did, or the error it met ({ error: ... }).
type Mod = typeof import("../../mod.ts");

const [mode, pkg, arena, bytesArg, library] = Deno.args;
const size = Number(bytesArg);

function patternByte(i: number): number {
  return (i * 31 + (i >>> 12) + 7) & 0xff;
}

function fill(view: Uint8Array): void {
  for (let i = 0; i < view.length; i++) view[i] = patternByte(i);
}

function mismatches(view: Uint8Array): number {
  let bad = 0;
  for (let i = 0; i < view.length; i++) if (view[i] !== patternByte(i)) bad++;
  return bad;
}

async function run(): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  const { LiveUpdate, MemFile }: Mod = await import(`${pkg}mod.ts`);
  const luo = LiveUpdate.start(arena, { size: 4 * size, library });
  const loadMs = performance.now() - t0;
  if (mode === "a") {
    const file = MemFile.create(luo.arena, size);
    fill(file.bytes());
    luo.createSession("app").preserve(file, 1n);
    luo.handover();
    return { mode, loadMs, resumed: luo.resumed, bytes: size };
  }
  const session = luo.retrieveSession("app");
  const file = session.retrieve(1n, MemFile);
  const view = file.bytes();
  const result = { mode, loadMs, resumed: luo.resumed, bytes: view.length, bad: mismatches(view) };
  session.finish();
  luo.close();
  return result;
}

try {
  console.log(JSON.stringify(await run()));
} catch (e) {
  const err = e as Error & { code?: string };
  console.log(JSON.stringify({ error: { name: err.name, code: err.code, message: err.message } }));
  Deno.exit(1);
}
