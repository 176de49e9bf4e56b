/**
 * A JSR user's machine for the package tests: a temp dir outside the
 * repository with the app (tests/children/jsr_app.ts) copied in, fresh
 * homes (each its own DENO_DIR and cache), the flags a service needs, and
 * runs of the app with nothing of this environment but the home.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CACHE_NAME } from "../lib/kho/library_cache.ts";
import { type DenoRun, type JsonResult, runDenoWith } from "./child_process.ts";
import { type PackageServer, servePackage } from "./package_server.ts";
import { works } from "./arena_file_child.ts";

const APP = new URL("../tests/children/jsr_app.ts", import.meta.url);
/** PATH of the apps: no Zig on it. */
export const USER_PATH = "/usr/bin:/bin";
/** Bound on the depth of a download cache. */
const MAX_DEPTH = 8;

/** What tests/children/jsr_app.ts prints. */
export interface AppResult {
  resumed: boolean;
  bytes: number;
  bad: number;
  loadMs: number;
}
/** A run of the app. */
export type AppRun = JsonResult<AppResult>;

/** A temp dir outside the repository with the app, and fresh homes in it. */
export interface Sandbox {
  /** The directory (mode 0755: another user can reach a home made for it). */
  dir: string;
  /** A fresh HOME with its own DENO_DIR and cache. */
  home(): string;
  /** Removes the directory. */
  cleanup(): void;
}

/** Makes a {@link Sandbox}. */
export function sandbox(): Sandbox {
  const dir = Deno.makeTempDirSync({ prefix: "luo-jsr-" });
  Deno.chmodSync(dir, 0o755);
  Deno.copyFileSync(APP, `${dir}/app.ts`);
  Deno.chmodSync(`${dir}/app.ts`, 0o644);
  let homes = 0;
  return {
    dir,
    home: () => {
      const home = `${dir}/home-${homes++}`;
      Deno.mkdirSync(home);
      return home;
    },
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
}

/** The flags a service needs (README "Permissions"), with the network scoped to `host`. */
export function serviceFlags(host: string): string[] {
  return [
    `--allow-import=${host}`,
    `--allow-net=${host}`,
    "--allow-ffi",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys=uid",
  ];
}

/** The whole environment of a user's process: its home, DENO_DIR and cache in it. */
export function userEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: home,
    DENO_DIR: `${home}/deno`,
    XDG_CACHE_HOME: `${home}/.cache`,
    PATH: USER_PATH,
    NO_COLOR: "1",
    ...extra,
  };
}

/** Runs `deno run FLAGS SCRIPT ARGS` in `cwd` with nothing of this environment but `home`. */
export function runAs(
  cwd: string,
  home: string,
  flags: string[],
  script: string,
  args: string[],
  more: Partial<DenoRun> = {},
): Promise<AppRun> {
  return runDenoWith<AppResult>({ flags, script, args, cwd, env: userEnv(home), ...more });
}

/**
 * Runs the app (`args`: mode, then what follows the package URL) with the
 * service flags, importing the package served at `server` (or its host,
 * once it is stopped).
 */
export async function runApp(
  cwd: string,
  home: string,
  server: PackageServer | string,
  args: string[],
  more: Partial<DenoRun> = {},
): Promise<AppRun> {
  const host = typeof server === "string" ? server : server.host;
  const r = await runAs(
    cwd,
    home,
    serviceFlags(host),
    "app.ts",
    [args[0], `http://${host}/`, ...args.slice(1)],
    more,
  );
  if (Deno.env.get("LUO_JSR_TIMINGS")) {
    console.log(`${args[0]} ${args[1]}: ${JSON.stringify(r.json)}`);
  }
  return r;
}

/** Fails with the app's output unless it exited 0. */
export function assertOk(r: AppRun, what: string): void {
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
}

/** The files in the download cache of `home`. */
export function cachedFiles(home: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    assert(depth < MAX_DEPTH, `cache deeper than expected at ${dir}`);
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory) walk(`${dir}/${e.name}`, depth + 1);
      else found.push(`${dir}/${e.name}`);
    }
  };
  try {
    walk(`${home}/deno/${CACHE_NAME}`, 0);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return found;
}

/**
 * Runs `fn` with a fresh {@link Sandbox} and `files` served (requests for
 * the paths in `hang` never answered), then stops the server and removes
 * the sandbox.
 */
export async function withServedPackage(
  files: Map<string, Uint8Array<ArrayBuffer>>,
  fn: (box: Sandbox, server: PackageServer) => Promise<void>,
  hang?: ReadonlySet<string>,
): Promise<void> {
  const box = sandbox();
  const server = servePackage(files, hang);
  try {
    await fn(box, server);
  } finally {
    await server.close();
    box.cleanup();
  }
}

/** Uid 65534 (nobody), the other user of the tests. */
export const NOBODY = 65534;

/** The checkout whose modules the other user's processes import. */
const CHECKOUT = new URL("../", import.meta.url).pathname;

/**
 * The command prefix that runs a command as {@link NOBODY}, or `undefined`
 * (said on the console) when this process cannot switch users, or, for a
 * command that imports this checkout's modules (`readsCheckout`), when that
 * user cannot read it (a clone inside a private directory, such as one
 * `mktemp -d` made).
 */
export async function asNobody(readsCheckout = false): Promise<string[] | undefined> {
  const prefix = ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"];
  if (Deno.uid() !== 0 || !await works([...prefix, "true"])) {
    console.log(`skipped: cannot run as uid ${NOBODY} here (not root, or no setpriv)`);
    return undefined;
  }
  if (readsCheckout && !await works([...prefix, "test", "-r", `${CHECKOUT}mod.ts`])) {
    console.log(
      `skipped: uid ${NOBODY} cannot read this checkout (${CHECKOUT}): clone it where others may read`,
    );
    return undefined;
  }
  return prefix;
}
