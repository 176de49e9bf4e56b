/**
 * A reference model for preserved-map tests: a JS `Map` of what a
 * {@link PreservedMap} must hold, seeded random operations over both, and
 * a comparison that names the first difference. Shared by the map's unit
 * tests, its crash test's children and the fuzzer's map shape.
 *
 * @module
 */

import type { MapKey, PreservedMap } from "../mod.ts";
import { Rng } from "./rng.ts";

const dec = new TextDecoder();

/** The model: key (as a string; bytes keys as `b:` + hex) → value bytes. */
export type Model = Map<string, Uint8Array>;

/** The model's name of a key. */
export function modelKey(k: MapKey): string {
  return typeof k === "string" ? `s:${k}` : `b:${[...k].map((b) => b.toString(16)).join(",")}`;
}

/** Deterministic value bytes for (`seed`, `i`), `len` long. */
export function valueOf(seed: number, i: number, len: number): Uint8Array {
  const v = new Uint8Array(len);
  let x = (seed * 2654435761 + i * 40503) >>> 0;
  for (let k = 0; k < len; k++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    v[k] = x >>> 24;
  }
  return v;
}

/** One operation of a random sequence. */
export type Op =
  | { op: "set"; key: string; value: Uint8Array }
  | { op: "delete"; key: string }
  | { op: "compact" };

/**
 * The `i`th operation of the sequence of `seed` over `keys` keys: mostly
 * sets (new keys and overwrites, values of 0..`maxValue` bytes), some
 * deletes, a rare full compaction.
 */
export function opAt(seed: number, i: number, keys: number, maxValue: number): Op {
  const rng = new Rng((seed * 1_000_003 + i * 7919) >>> 0);
  const r = rng.next();
  const key = `key-${rng.int(keys)}`;
  if (r < 0.7) return { op: "set", key, value: valueOf(seed, i, rng.int(maxValue + 1)) };
  if (r < 0.995) return { op: "delete", key };
  return { op: "compact" };
}

/** Applies `op` to the map and to the model. */
export function apply(map: PreservedMap, model: Model, op: Op): void {
  if (op.op === "set") {
    map.set(op.key, op.value);
    model.set(modelKey(op.key), op.value);
  } else if (op.op === "delete") {
    map.delete(op.key);
    model.delete(modelKey(op.key));
  } else map.compact();
}

/** Applies `op` to the model only. */
export function applyToModel(model: Model, op: Op): void {
  if (op.op === "set") model.set(modelKey(op.key), op.value);
  else if (op.op === "delete") model.delete(modelKey(op.key));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The first difference between the map and the model (size, iteration, every get), or null. */
export function differs(map: PreservedMap, model: Model): string | null {
  if (map.size !== model.size) return `size ${map.size}, model ${model.size}`;
  let seen = 0;
  for (const [k, v] of map.entries()) {
    const want = model.get(modelKey(k));
    if (!want) return `iteration yields ${modelKey(k)}, which the model lacks`;
    if (!equalBytes(v, want)) return `iteration: ${modelKey(k)} = ${dec.decode(v.slice(0, 20))}…`;
    seen++;
  }
  if (seen !== model.size) return `iteration yields ${seen} entries, model ${model.size}`;
  for (const [mk, want] of model) {
    const key = mk.startsWith("s:")
      ? mk.slice(2)
      : new Uint8Array(mk.slice(2).split(",").filter(Boolean).map((h) => parseInt(h, 16)));
    const got = map.get(key);
    if (!got || !equalBytes(got, want)) return `get(${mk}) = ${got?.length ?? "undefined"} bytes`;
    if (!map.has(key)) return `has(${mk}) is false`;
  }
  return null;
}
