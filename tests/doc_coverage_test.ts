// dev/doc_coverage.ts on a small package of its own: what counts as an
// example, which members are exempt, re-exports counted once, and the
// pending list that may only shrink.
import assert from "node:assert/strict";
import {
  type Coverage,
  coverageOf,
  denoDoc,
  hasRunnableExample,
  problems,
} from "../dev/doc_coverage.ts";

const FENCE = "```";
/** A JSDoc block: `text`, then an example in `lang` when given. */
const doc = (text: string, lang?: string) =>
  lang === undefined
    ? `/** ${text} */`
    : `/**\n * ${text}\n *\n * @example\n * ${FENCE}${lang}\n * console.log(1);\n * ${FENCE}\n */`;

/** Declarations covering every rule of the script. */
const IMPL = `
${doc("Documented.", "ts")}
export const WITH = 1;
${doc("Only an ignored example.", "ts ignore")}
export const IGNORED = 2;
${doc("A shell example is not run.", "sh")}
export const SHELL = 3;
/** No example. */
export type Bare = string;
/** First overload. */
export function over(a: string): string;
${doc("Second overload.", "ts")}
export function over(a: number): number;
export function over(a: unknown): unknown {
  return a;
}
${doc("An error class.", "ts")}
export class Failure extends Error {
  /** Its code: needs an example. */
  readonly code = "EIO";
  /** Inherited from Error: exempt. */
  override name = "Failure";
  /** A getter with the example on its setter. */
  get level(): number {
    return 0;
  }
  ${doc("The setter.", "ts")}
  set level(_v: number) {}
  /** @internal Exempt. */
  hidden(): void {}
  private secret(): void {}
  #own(): void {}
  /** Needs one. */
  static make(): Failure {
    return new Failure();
  }
  /** Exempt. */
  [Symbol.dispose](): void {}
}
`;

function withPackage<T>(fn: (dir: string) => T): T {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/impl.ts`, IMPL);
    Deno.writeTextFileSync(`${dir}/a.ts`, `export * from "./impl.ts";\n`);
    Deno.writeTextFileSync(`${dir}/b.ts`, `export { Failure, WITH } from "./impl.ts";\n`);
    return fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function coverage(dir: string): Map<string, Coverage> {
  const { items, unresolved } = coverageOf(denoDoc([`${dir}/a.ts`, `${dir}/b.ts`]));
  assert.deepEqual(unresolved, [], "b.ts re-exports what a.ts declares");
  assert.equal(new Set(items.map((c) => c.name)).size, items.length, "each name once");
  return new Map(items.map((c) => [c.name, c]));
}

Deno.test("doc coverage: runnable examples count, ignored and non-code ones do not", () => {
  withPackage((dir) => {
    const c = coverage(dir);
    const has = (name: string) => c.get(name)?.example;
    assert.equal(has("WITH"), true);
    assert.equal(has("IGNORED"), false, "ts ignore is not run by deno test --doc");
    assert.equal(has("SHELL"), false, "an sh block is not run");
    assert.equal(has("Bare"), false);
    assert.equal(has("over"), true, "an example on any overload covers the function");
    assert.equal(has("Failure.level"), true, "a getter and its setter are one member");
    assert.equal(has("Failure.code"), false);
    assert.equal(has("Failure.make"), false);
    const line = IMPL.split("\n").findIndex((l) => l.includes("static make()")) + 1;
    assert.equal(c.get("Failure.make")!.where, `${new URL(`file://${dir}/impl.ts`)}:${line}`);
  });
});

Deno.test("doc coverage: private, #private, @internal, Error's and dispose members are exempt", () => {
  withPackage((dir) => {
    const members = [...coverage(dir).values()].filter((c) => !c.symbol).map((c) => c.name);
    assert.deepEqual(members.sort(), ["Failure.code", "Failure.level", "Failure.make"]);
  });
});

Deno.test("doc coverage: the pending list excuses its names and may only shrink", () => {
  withPackage((dir) => {
    const items = [...coverage(dir).values()];
    const missing = problems(items, []).map((p) => /^\S+ (\S+): no example$/.exec(p)?.[1]);
    assert.deepEqual(missing.sort(), [
      "Bare",
      "Failure.code",
      "Failure.make",
      "IGNORED",
      "SHELL",
    ]);
    const pending = ["Bare", "Failure.code", "Failure.make", "IGNORED", "SHELL"];
    assert.deepEqual(problems(items, pending), []);
    const stale = problems(items, [...pending, "WITH", "Gone"]);
    assert.equal(stale.length, 2, stale.join("\n"));
    assert.match(stale[0], /WITH has an example now: remove it from PENDING_EXAMPLES/);
    assert.match(stale[1], /PENDING_EXAMPLES lists Gone, which is not exported/);
  });
});

Deno.test("doc coverage: a fence is runnable by its language, not by its attributes", () => {
  const tag = (doc: string) => ({ tags: [{ kind: "example", doc }] });
  assert.equal(hasRunnableExample(tag("```ts\nx\n```")), true);
  assert.equal(hasRunnableExample(tag("```js\nx\n```")), true);
  assert.equal(hasRunnableExample(tag("```ts ignore\nx\n```")), false);
  assert.equal(hasRunnableExample(tag("```tsx\nx\n```")), true);
  assert.equal(hasRunnableExample(tag("```\nx\n```")), false, "no language: not run");
  assert.equal(hasRunnableExample(tag("text without a fence")), false);
  assert.equal(hasRunnableExample({ doc: "no tags" }), false);
  assert.equal(hasRunnableExample(undefined), false);
});
