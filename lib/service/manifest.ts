/**
 * A versioned state manifest for a service's session: token 0 holds a small
 * JSON document (format version, generation, what each token is), so that a
 * successor knows what it is given, refuses a format newer than it reads
 * with a clear error (and can start empty), and skips entries it does not
 * know with a warning while keeping the rest.
 *
 * @module
 */

import { LuoError, typeOf } from "../errors.ts";
import { MemFile } from "../handlers/memfd/mem_file.ts";
import type { Arena } from "../kho/arena.ts";
import { checkArena } from "../kho/check_arena.ts";
import { IncomingSession, OutgoingSession } from "../luo/session.ts";

/**
 * The manifest format this build writes and reads.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MANIFEST_FORMAT, preserveManifest } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const file = preserveManifest(luo.createSession("svc"), luo.arena, {
 *   service: "svc",
 *   generation: 1,
 *   entries: {},
 * });
 * const doc = JSON.parse(new TextDecoder().decode(file.read()));
 * console.log(doc.format === MANIFEST_FORMAT); // true
 * ```
 */
export const MANIFEST_FORMAT = 1;
/**
 * The token that holds the manifest.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MANIFEST_TOKEN, preserveManifest } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const s = luo.createSession("svc");
 * preserveManifest(s, luo.arena, { service: "svc", generation: 1, entries: {} });
 * console.log(s.tokens()[0] === MANIFEST_TOKEN); // true: token 0
 * ```
 */
export const MANIFEST_TOKEN = 0n;

/**
 * What one token of the session holds.
 *
 * @example
 * ```ts
 * import type { ManifestEntry } from "@luo/live-update";
 * const entry: ManifestEntry = { kind: "kv-values", version: 2, meta: { keys: 1200 } };
 * console.log(entry.kind); // "kv-values"
 * ```
 */
export interface ManifestEntry {
  /** A kind the service knows how to use (e.g. "kv-values"). */
  kind: string;
  /** The kind's own version, for the service to check. */
  version?: number;
  /** Free-form detail (sizes, counts, ...). */
  meta?: Record<string, unknown>;
}

/**
 * The manifest document.
 *
 * @example
 * ```ts
 * import { type Manifest, MANIFEST_FORMAT } from "@luo/live-update";
 * const manifest: Manifest = {
 *   format: MANIFEST_FORMAT,
 *   service: "cache",
 *   generation: 3,
 *   entries: { "1": { kind: "kv-values" }, "2": { kind: "stats", version: 1 } },
 * };
 * console.log(Object.keys(manifest.entries)); // ["1", "2"]
 * ```
 */
export interface Manifest {
  /** Manifest format version ({@link MANIFEST_FORMAT} when written by this build). */
  format: number;
  /** Name of the service. */
  service: string;
  /** Generation of the service that wrote it (1 for the first). */
  generation: number;
  /** Token (as a decimal string) → what it holds. */
  entries: Record<string, ManifestEntry>;
}

/**
 * A manifest read back, with the entries of unknown kinds removed.
 *
 * @example
 * ```ts
 * import {
 *   LiveUpdate,
 *   preserveManifest,
 *   type ReadManifest,
 *   readManifest,
 * } from "@luo/live-update";
 * const old = LiveUpdate.create({ size: 1 << 20 });
 * preserveManifest(old.createSession("svc"), old.arena, {
 *   service: "svc",
 *   generation: 1,
 *   entries: { "1": { kind: "kv-values" }, "2": { kind: "from-the-future" } },
 * });
 * old.handover();
 * const luo = LiveUpdate.open(old.arena.path);
 * const s = luo.retrieveSession("svc");
 * const read: ReadManifest = readManifest(s, ["kv-values"]);
 * console.log(read.manifest.generation, read.skipped); // 1 [{ token: "2", kind: "from-the-future" }]
 * s.finish();
 * luo.close();
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface ReadManifest {
  /** The manifest, with only the entries of known kinds. */
  manifest: Manifest;
  /** Tokens skipped because their kind is not in `knownKinds`. */
  skipped: { token: string; kind: string }[];
}

/**
 * Preserves `manifest` as JSON in a memfd at token 0 of `session`.
 * `EINVAL` when an argument is of the wrong kind (the manifest needs a
 * `service` name, a `generation` from 1 and `entries` whose values each
 * have a `kind` string).
 *
 * @example
 * ```ts
 * import { LiveUpdate, preserveManifest } from "@luo/live-update";
 *
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const session = luo.createSession("cache");
 * preserveManifest(session, luo.arena, {
 *   service: "cache",
 *   generation: 2,
 *   entries: { "1": { kind: "kv-values", version: 1 } },
 * });
 * ```
 */
export function preserveManifest(
  session: OutgoingSession,
  arena: Arena,
  manifest: Omit<Manifest, "format">,
): MemFile {
  if (!(session instanceof OutgoingSession)) {
    throw new LuoError(
      "EINVAL",
      `preserveManifest: expected an OutgoingSession, got ${typeOf(session)}`,
    );
  }
  checkArena("preserveManifest", arena);
  checkManifest(manifest);
  const doc: Manifest = { format: MANIFEST_FORMAT, ...manifest };
  const file = MemFile.from(arena, new TextEncoder().encode(JSON.stringify(doc)));
  session.preserve(file, MANIFEST_TOKEN);
  return file;
}

/** `EINVAL` unless `m` has the shape of a manifest (without its format). */
function checkManifest(m: Omit<Manifest, "format">): void {
  const bad = (what: string) => new LuoError("EINVAL", `preserveManifest: ${what}`);
  if (typeof m !== "object" || m === null) {
    throw bad(`the manifest must be an object, got ${typeOf(m)}`);
  }
  if (typeof m.service !== "string") {
    throw bad(`service must be a string, got ${typeOf(m.service)}`);
  }
  if (!Number.isSafeInteger(m.generation) || m.generation < 1) {
    throw bad(`generation must be an integer from 1, got ${String(m.generation)}`);
  }
  if (typeof m.entries !== "object" || m.entries === null) {
    throw bad(`entries must be an object, got ${typeOf(m.entries)}`);
  }
  for (const [token, entry] of Object.entries(m.entries)) {
    if (typeof entry?.kind !== "string") throw bad(`entry "${token}" has no kind string`);
  }
}

/**
 * Reads the manifest at token 0: `EPROTO` when its format is newer than
 * this build reads, `EBADMSG` when it is not a manifest; entries whose kind
 * is not in `knownKinds` are dropped and reported in `skipped`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, readManifest } from "@luo/live-update";
 *
 * const dir = Deno.makeTempDirSync();
 * using luo = LiveUpdate.start(`${dir}/cache.arena`, { size: 1 << 20 });
 * if (luo.incomingSessions().includes("cache")) {
 *   const { manifest, skipped } = readManifest(luo.retrieveSession("cache"), ["kv-values"]);
 *   console.log(manifest.generation, skipped);
 * }
 * luo.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function readManifest(
  session: IncomingSession,
  knownKinds: readonly string[],
): ReadManifest {
  if (!(session instanceof IncomingSession)) {
    throw new LuoError(
      "EINVAL",
      `readManifest: expected an IncomingSession, got ${typeOf(session)}`,
    );
  }
  if (!Array.isArray(knownKinds) || !knownKinds.every((k) => typeof k === "string")) {
    throw new LuoError("EINVAL", "readManifest: knownKinds must be an array of strings");
  }
  const file = session.retrieve(MANIFEST_TOKEN);
  if (!(file instanceof MemFile)) {
    throw new LuoError("EBADMSG", `session "${session.name}": token 0 is not a manifest file`);
  }
  let doc: Manifest;
  try {
    doc = JSON.parse(new TextDecoder().decode(file.read()));
  } catch (e) {
    throw new LuoError(
      "EBADMSG",
      `session "${session.name}": the manifest is not JSON (${(e as Error).message})`,
    );
  } finally {
    file.close();
  }
  if (typeof doc?.format !== "number" || typeof doc.entries !== "object" || doc.entries === null) {
    throw new LuoError(
      "EBADMSG",
      `session "${session.name}": the manifest has no format or entries`,
    );
  }
  if (doc.format > MANIFEST_FORMAT) {
    throw new LuoError(
      "EPROTO",
      `session "${session.name}": manifest format ${doc.format} is newer than this build reads (${MANIFEST_FORMAT})`,
    );
  }
  const skipped: ReadManifest["skipped"] = [];
  const entries: Record<string, ManifestEntry> = {};
  for (const [token, entry] of Object.entries(doc.entries)) {
    if (knownKinds.includes(entry?.kind)) entries[token] = entry;
    else skipped.push({ token, kind: String(entry?.kind) });
  }
  return { manifest: { ...doc, entries }, skipped };
}
