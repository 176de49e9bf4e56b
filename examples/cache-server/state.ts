/**
 * The cache's state: one {@link PreservedMap} (keys, values and index in
 * arena pages), handed over as one file at token 1 with a versioned
 * manifest at token 0, so that a successor knows what it is given.
 *
 * @module
 */

import {
  type IncomingSession,
  LuoError,
  type OutgoingSession,
  PreservedMap,
  preserveManifest,
  readManifest,
} from "../../mod.ts";
import type { Arena } from "../../kho.ts";

/** The manifest kind of the map, and its token. */
export const MAP_KIND = "kv-map";
const MAP_TOKEN = 1n;

/** The deterministic value of preloaded key `i` (`POST /admin/fill`), for checking. */
export function fillValue(i: number, size: number): Uint8Array {
  const v = new Uint8Array(size);
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < size; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    v[k] = x >>> 24;
  }
  return v;
}

/** Preserves the map and the manifest in `session` (generation = the one handing over). */
export function preserveState(
  session: OutgoingSession,
  arena: Arena,
  map: PreservedMap,
  generation: number,
): void {
  session.preserve(map, MAP_TOKEN);
  preserveManifest(session, arena, {
    service: "cache-server",
    generation,
    entries: { [String(MAP_TOKEN)]: { kind: MAP_KIND, version: 1, meta: { keys: map.size } } },
  });
}

/** What a successor takes over. */
export interface Restored {
  /** The map, as the predecessor left it. */
  map: PreservedMap;
  /** The predecessor's generation. */
  generation: number;
  /** Manifest entries this build does not know (`token:kind`), skipped. */
  skipped: string[];
}

/** Takes over the handed-over map (the same pages: nothing is copied or rebuilt). */
export function restoreState(session: IncomingSession): Restored {
  const { manifest, skipped } = readManifest(session, [MAP_KIND]);
  const entry = Object.entries(manifest.entries).find(([, e]) => e.kind === MAP_KIND);
  if (!entry || entry[1].version !== 1) {
    throw new LuoError("EPROTO", `manifest: no "${MAP_KIND}" entry of version 1`);
  }
  return {
    map: session.retrieve(BigInt(entry[0]), PreservedMap),
    generation: manifest.generation,
    skipped: skipped.map((s) => `${s.token}:${s.kind}`),
  };
}
