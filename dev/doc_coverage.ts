/**
 * Documentation coverage (`./luo test` runs it): every symbol the package's
 * entry points export, and every public member of an exported class, has a
 * runnable `@example` (a ```ts block that `deno test --doc` type-checks and
 * runs; one marked `ignore` does not count). Re-exports count once, at the
 * declaration. Not counted: members that are private, `#private`,
 * `@internal`, `[Symbol.dispose]`, or inherited from `Error`. Interface
 * fields and type alias members are covered by the example on the type.
 *
 * Prints what lacks an example and exits 1 when anything does, except the
 * names in {@link PENDING_EXAMPLES}; an entry there that has an example by
 * now, or no longer exists, also fails, so that the list only shrinks.
 *
 * Run on its own: `deno run -A dev/doc_coverage.ts [--json]`.
 *
 * @module
 */

import { parseArgs } from "node:util";

export const DOC_COVERAGE_HELP = `usage: deno run -A dev/doc_coverage.ts [--json] [ENTRY.ts ...]

Lists the exported symbols of the entry points (default: mod.ts tools.ts
kho.ts) and the public members of exported classes that have no runnable
@example; exit 1 when any does (PENDING_EXAMPLES excepted).

  --json   print every symbol and member with whether it has an example`;

/** The entry points checked by default (cli.ts exports nothing to document). */
export const ENTRY_POINTS: readonly string[] = ["mod.ts", "tools.ts", "kho.ts"];

/**
 * Symbols and members excused from having an example: none now, every
 * export and public class member has one. Nothing may be added to it.
 */
export const PENDING_EXAMPLES: readonly string[] = [];

/** Members every `Error` has: documented by the platform, not here. */
const ERROR_MEMBERS = new Set(["name", "message", "stack", "cause", "toString"]);
/** Languages whose fenced blocks `deno test --doc` type-checks and runs. */
const RUNNABLE_FENCE = /^```(?:ts|tsx|mts|cts|typescript|js|jsx|mjs|cjs|javascript)\b(.*)$/m;

/** A JSDoc block as `deno doc --json` gives it. */
interface JsDoc {
  doc?: string;
  tags?: { kind: string; doc?: string }[];
}

/** A source position (`line` counts from 0). */
interface Location {
  filename: string;
  line: number;
  byteIndex: number;
}

/** A class member, constructor, property or method (getters and setters included). */
interface Member {
  name: string;
  location: Location;
  jsDoc?: JsDoc;
  accessibility?: "public" | "private" | "protected";
}

/** One declaration of an exported symbol (a re-export is a `reference` to another). */
interface Declaration {
  kind: string;
  location: Location;
  jsDoc?: JsDoc;
  def?: {
    target?: Location;
    extends?: string;
    constructors?: Member[];
    properties?: Member[];
    methods?: Member[];
  };
}

/** One exported symbol with all its declarations (overloads, merged declarations). */
interface DocSymbol {
  name: string;
  declarations: Declaration[];
}

/** The output of `deno doc --json` (format version 2). */
export interface DocJson {
  version: number;
  nodes: Record<string, { symbols: DocSymbol[] }>;
}

/** A documented name and whether it has a runnable example. */
export interface Coverage {
  /** The symbol (`PAGE_SIZE`) or member (`MemFile.read`, `MemFile.constructor`). */
  name: string;
  /** `path:line` of its declaration, relative to the working directory. */
  where: string;
  /** Whether it is an exported symbol (else a class member). */
  symbol: boolean;
  /** Whether a JSDoc of it has a runnable `@example`. */
  example: boolean;
}

/** Whether `doc` has an `@example` with a fenced block `deno test --doc` runs. */
export function hasRunnableExample(doc: JsDoc | undefined): boolean {
  return (doc?.tags ?? []).some((t) => {
    if (t.kind !== "example") return false;
    const fence = RUNNABLE_FENCE.exec(t.doc ?? "");
    return fence !== null && !/\bignore\b/.test(fence[1]);
  });
}

function keyOf(l: Location): string {
  return `${l.filename}#${l.byteIndex}`;
}

function whereOf(l: Location): string {
  const cwd = `file://${Deno.cwd()}/`;
  const file = l.filename.startsWith(cwd) ? l.filename.slice(cwd.length) : l.filename;
  return `${file}:${l.line + 1}`;
}

/** The members of one class that need an example, grouped by name (overloads, get/set pairs). */
function classMembers(name: string, decl: Declaration, isError: boolean): Coverage[] {
  const members = [
    ...(decl.def?.constructors ?? []),
    ...(decl.def?.properties ?? []),
    ...(decl.def?.methods ?? []),
  ];
  const byName = new Map<string, Coverage>();
  for (const m of members) {
    if (m.accessibility === "private" || m.accessibility === "protected") continue;
    if (m.name.startsWith("#") || m.name === "[Symbol.dispose]") continue;
    if (isError && ERROR_MEMBERS.has(m.name)) continue;
    if ((m.jsDoc?.tags ?? []).some((t) => t.kind === "internal")) continue;
    const full = `${name}.${m.name}`;
    const c = byName.get(full) ??
      { name: full, where: whereOf(m.location), symbol: false, example: false };
    c.example ||= hasRunnableExample(m.jsDoc);
    byName.set(full, c);
  }
  return [...byName.values()];
}

/** Whether the class `name` derives from `Error` (through classes of `classes`). */
function derivesFromError(name: string, classes: Map<string, Declaration>): boolean {
  let current: string | undefined = name;
  for (let depth = 0; depth < 64 && current !== undefined; depth++) {
    const ext: string | undefined = classes.get(current)?.def?.extends;
    if (ext === "Error") return true;
    current = ext;
  }
  return false;
}

/**
 * Everything the entry points of `doc` export, once per declaration: each
 * symbol, then the public members of each class. A re-export of a symbol
 * another entry point exports is a `reference` to its declaration; one
 * whose declaration `doc` does not hold is returned in `unresolved`.
 */
export function coverageOf(doc: DocJson): { items: Coverage[]; unresolved: Location[] } {
  const declared = new Map<string, DocSymbol>();
  const ownKeys = new Set<string>();
  const references: Location[] = [];
  for (const module of Object.values(doc.nodes)) {
    for (const s of module.symbols) {
      const own = s.declarations.filter((d) => d.kind !== "reference");
      for (const d of s.declarations) {
        if (d.kind === "reference") references.push(d.def!.target!);
        else ownKeys.add(keyOf(d.location));
      }
      if (own.length > 0 && !declared.has(keyOf(own[0].location))) {
        declared.set(keyOf(own[0].location), { name: s.name, declarations: own });
      }
    }
  }
  const classes = new Map<string, Declaration>();
  for (const s of declared.values()) {
    for (const d of s.declarations) if (d.kind === "class") classes.set(s.name, d);
  }
  const items: Coverage[] = [];
  for (const s of declared.values()) {
    const d0 = s.declarations[0];
    const example = s.declarations.some((d) => hasRunnableExample(d.jsDoc));
    items.push({ name: s.name, where: whereOf(d0.location), symbol: true, example });
    const cls = classes.get(s.name);
    if (cls) items.push(...classMembers(s.name, cls, derivesFromError(s.name, classes)));
  }
  return { items, unresolved: references.filter((r) => !ownKeys.has(keyOf(r))) };
}

/** `deno doc --json` of `files`. */
export function denoDoc(files: readonly string[]): DocJson {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...files],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    throw new Error(
      `deno doc --json ${files.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const doc = JSON.parse(new TextDecoder().decode(out.stdout)) as DocJson;
  if (doc.version !== 2 || typeof doc.nodes !== "object") {
    throw new Error(`deno doc --json: format version ${doc.version}, this script reads version 2`);
  }
  return doc;
}

/** The coverage of `entries` (every re-export resolved to its declaration, or an error). */
export function entryCoverage(entries: readonly string[]): Coverage[] {
  const { items, unresolved } = coverageOf(denoDoc(entries));
  if (unresolved.length > 0) {
    throw new Error(
      `deno doc --json: re-exports of declarations it did not list: ${
        unresolved.map(whereOf).join(", ")
      }`,
    );
  }
  return items;
}

/** What fails the check: missing examples not pending, and stale pending entries. */
export function problems(items: Coverage[], pending: readonly string[]): string[] {
  const out: string[] = [];
  const byName = new Map(items.map((c) => [c.name, c]));
  for (const c of items) {
    if (!c.example && !pending.includes(c.name)) out.push(`${c.where} ${c.name}: no example`);
  }
  for (const name of pending) {
    const c = byName.get(name);
    if (c === undefined) out.push(`PENDING_EXAMPLES lists ${name}, which is not exported`);
    else if (c.example) {
      out.push(`${c.where} ${name} has an example now: remove it from PENDING_EXAMPLES`);
    }
  }
  return out;
}

/** One line of counts. */
export function summary(items: Coverage[], pending: readonly string[]): string {
  const count = (symbol: boolean, example?: boolean) =>
    items.filter((c) => c.symbol === symbol && (example === undefined || c.example === example))
      .length;
  return `doc coverage: ${count(true, true)} of ${count(true)} exported symbols and ` +
    `${count(false, true)} of ${count(false)} public class members have a runnable example; ` +
    `${pending.length} pending (PENDING_EXAMPLES)`;
}

/** Runs the check; returns the exit code. */
export function docCoverage(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean" } },
  });
  if (values.help) {
    console.log(DOC_COVERAGE_HELP);
    return 0;
  }
  const items = entryCoverage(positionals.length > 0 ? positionals : ENTRY_POINTS);
  if (values.json) console.log(JSON.stringify(items, null, 2));
  const found = problems(items, PENDING_EXAMPLES);
  console.error(summary(items, PENDING_EXAMPLES));
  if (found.length === 0) return 0;
  console.error(`luo: documentation without a runnable @example:\n  ${found.join("\n  ")}`);
  return 1;
}

if (import.meta.main) Deno.exit(docCoverage(Deno.args));
