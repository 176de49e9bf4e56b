/**
 * A versioned state manifest for a service's session: token 0 holds a small
 * JSON document (format version, generation, what each token is), so that a
 * successor knows what it is given, refuses a format newer than it reads
 * with a clear error (and can start empty), and skips entries it does not
 * know with a warning while keeping the rest.
 *
 * @module
 */

import { LuoError } from "../errors.ts";
import { MemFile } from "../handlers/memfd/mem_file.ts";
import type { Arena } from "../kho/arena.ts";
import type { IncomingSession, OutgoingSession } from "./session.ts";

/** The manifest format this build writes and reads. */
export const MANIFEST_FORMAT = 1;
/** The token that holds the manifest. */
export const MANIFEST_TOKEN = 0n;

/** What one token of the session holds. */
export interface ManifestEntry {
  /** A kind the service knows how to use (e.g. "kv-values"). */
  kind: string;
  /** The kind's own version, for the service to check. */
  version?: number;
  /** Free-form detail (sizes, counts, ...). */
  meta?: Record<string, unknown>;
}

/** The manifest document. */
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

/** A manifest read back, with the entries of unknown kinds removed. */
export interface ReadManifest {
  /** The manifest, with only the entries of known kinds. */
  manifest: Manifest;
  /** Tokens skipped because their kind is not in `knownKinds`. */
  skipped: { token: string; kind: string }[];
}

/**
 * Preserves `manifest` as JSON in a memfd at token 0 of `session`.
 *
 * @example
 * ```ts ignore
 * preserveManifest(session, luo.arena, {
 *   service: "cache", generation: 2, entries: { "1": { kind: "kv-values", version: 1 } },
 * });
 * ```
 */
export function preserveManifest(
  session: OutgoingSession,
  arena: Arena,
  manifest: Omit<Manifest, "format">,
): MemFile {
  const doc: Manifest = { format: MANIFEST_FORMAT, ...manifest };
  const file = MemFile.from(arena, new TextEncoder().encode(JSON.stringify(doc)));
  session.preserve(file, MANIFEST_TOKEN);
  return file;
}

/**
 * Reads the manifest at token 0: `EPROTO` when its format is newer than
 * this build reads, `EBADMSG` when it is not a manifest; entries whose kind
 * is not in `knownKinds` are dropped and reported in `skipped`.
 */
export function readManifest(
  session: IncomingSession,
  knownKinds: readonly string[],
): ReadManifest {
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
