/**
 * {@link PreservedMap}: a key-value map whose keys, values and index all
 * live in arena pages, preserved and retrieved as one file (compatible
 * `"kvmap-v1"`): the successor's retrieve claims a handful of blocks and
 * serves the first `get` at once, whatever the number of keys.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { CorruptImageError, LuoError, typeOf } from "../../errors.ts";
import { MAX_VALUE_BYTES, RECORD } from "../../format/kvmap_log_ser.ts";
import { KVMAP_FLAGS } from "../../format/kvmap_ser.ts";
import { type Arena, checkInteger } from "../../kho/arena.ts";
import { checkArena } from "../../kho/check_arena.ts";
import { optionsOf } from "../../kho/options.ts";
import { adoptMap } from "./adopt.ts";
import { MapCore, type MapRegion, type RecordRef } from "./core.ts";
import { decodeKey, isDetached, type MapKey } from "./keys.ts";

export type { MapKey } from "./keys.ts";

/**
 * How a map stores its values: bytes as given, or structured clones (`node:v8`).
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { PreservedMap, type ValueKind } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * using map = PreservedMap.create<{ n: number }>(arena, { values: "cloned" });
 * const kind: ValueKind = map.valueKind;
 * console.log(kind); // "cloned"
 * ```
 */
export type ValueKind = "bytes" | "cloned";

/**
 * Options of {@link PreservedMap.create}.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { PreservedMap, type PreservedMapOptions } from "@luo/live-update";
 * using arena = Arena.create({ size: 4 << 20 });
 * const options: PreservedMapOptions = { keys: 10_000, bytes: 1 << 20 }; // sized once, up front
 * using map = PreservedMap.create(arena, options);
 * console.log(map.stats().slots >= 10_000); // true
 * ```
 */
export interface PreservedMapOptions {
  /** Keys expected: the index is sized for them up front (it grows anyway). */
  keys?: number;
  /** Bytes of keys and values expected: the first log segment is sized for them. */
  bytes?: number;
}

/**
 * What a map holds and occupies.
 *
 * @example
 * ```ts
 * import { Arena } from "@luo/live-update/kho";
 * import { PreservedMap, type PreservedMapStats } from "@luo/live-update";
 * using arena = Arena.create({ size: 1 << 20 });
 * using map = PreservedMap.create(arena);
 * map.set("a", new Uint8Array(100));
 * map.set("a", new Uint8Array(100)); // the first record is dead now
 * const st: PreservedMapStats = map.stats();
 * console.log(st.keys, st.deadBytes > 0); // 1 true
 * ```
 */
export interface PreservedMapStats {
  /** Keys. */
  keys: number;
  /** Index slots. */
  slots: number;
  /** Log segments. */
  segments: number;
  /** Bytes of the records of live keys. */
  liveBytes: number;
  /** Bytes of overwritten or deleted records not reclaimed yet. */
  deadBytes: number;
  /** Arena pages the map occupies (header, index, segments). */
  pages: number;
}

/** Access for the handler (module-internal: not exported from the package). */
export const mapInternals: unique symbol = Symbol("kvmap internals");

/** What the handler reaches through {@link mapInternals}. */
export interface MapInternals {
  /** Physical address of the header page. */
  headerPa: bigint;
  /** Every block of the map. */
  regions(): MapRegion[];
  /** Marks the map preserved (it may not be closed then) or not. */
  setPreserved(on: boolean): void;
  /** Commits the state once more with no pending store (all were applied): a successor has nothing to redo. */
  settle(): void;
}

/**
 * A map from keys (strings or bytes: a string is its UTF-8 bytes) to
 * values (`Uint8Array`s, or structured clones with `{ values: "cloned" }`)
 * kept entirely in arena pages. Preserve it in a session and the
 * successor's `retrieve` gives it back without reading a key. It grows
 * without a limit set in advance (the index doubles in the arena, the log
 * gains segments) and reclaims the space of overwritten and deleted values
 * a bounded step at a time. Iteration order is the index's, not insertion
 * order.
 *
 * **Views.** `get` on a bytes map returns a view of the value's bytes in
 * the arena, not a copy. It shows the value until the next `set`,
 * `delete`, `clear` or `compact` of this map (any of them may move or
 * reuse records), or until the handover or the arena's close, after which
 * it is empty (length 0). A stale view never crashes; it may show other
 * bytes. Copy (`slice()`) what you keep across a mutation.
 *
 * **Crash safety.** Every mutation commits with one store; a process
 * killed mid-mutation leaves a map that the next retrieve of the same
 * image reads as before or after it.
 *
 * **Limits.** Keys up to 65,535 bytes (a string key must be well-formed:
 * a lone surrogate is `EINVAL` in every method), values up to 1 GiB; the
 * log has at most 240 segments, each sized to a quarter of the map (64 KiB
 * to 1 GiB; a record larger than that gets a segment of its own, the next
 * power of two above it), so a map holds up to about 240 GiB of records
 * (`ENOSPC` beyond); a full arena is `ENOMEM`. Either way the call changes
 * nothing.
 *
 * @example
 * ```ts
 * import { LiveUpdate, PreservedMap } from "@luo/live-update";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/service.arena`;
 * const luo = LiveUpdate.start(path, { size: 4 << 20 });
 * const users = PreservedMap.create(luo.arena);
 * users.set("alice", new TextEncoder().encode("admin"));
 * luo.createSession("svc").preserve(users, 1n);
 * luo.handover();
 *
 * // The successor (normally a new process): ready at once, nothing rebuilt.
 * using next = LiveUpdate.start(path, { size: 4 << 20 });
 * const s = next.retrieveSession("svc");
 * const map = s.retrieve(1n, PreservedMap);
 * s.finish();
 * console.log(new TextDecoder().decode(map.get("alice"))); // "admin"
 * next.close();
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class PreservedMap<V = Uint8Array> implements Iterable<[MapKey, V]> {
  /**
   * The arena holding the map.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * console.log(map.arena === arena); // true
   * ```
   */
  readonly arena: Arena;
  /**
   * How values are stored.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * using clones = PreservedMap.create(arena, { values: "cloned" });
   * console.log(map.valueKind, clones.valueKind); // "bytes" "cloned"
   * ```
   */
  readonly valueKind: ValueKind;
  // TS-private rather than #private: a successor's first retrieve and get
  // compile these methods cold, and methods using #names compile slower.
  /** The arena side. */
  private core: MapCore;
  /** Whether values are structured clones. */
  private cloned: boolean;
  /** Whether {@link close} ran. */
  private isClosed = false;
  /** Whether a session holds the map. */
  private isPreserved = false;

  private constructor(core: MapCore) {
    this.arena = core.arena;
    this.core = core;
    this.cloned = (core.flags & KVMAP_FLAGS.clonedValues) !== 0;
    this.valueKind = this.cloned ? "cloned" : "bytes";
  }

  /**
   * A new, empty map of `Uint8Array` values.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("k", new Uint8Array([1, 2]));
   * console.log(map.get("k")); // Uint8Array [1, 2] (a view of the arena)
   * ```
   */
  static create(arena: Arena, options?: PreservedMapOptions): PreservedMap<Uint8Array>;
  /**
   * A new, empty map of structured-cloned values (copied in and out with `node:v8`).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create<{ role: string; since: Date }>(arena, { values: "cloned" });
   * map.set("alice", { role: "admin", since: new Date(0) });
   * console.log(map.get("alice")?.role); // "admin"
   * ```
   */
  static create<V>(
    arena: Arena,
    options: PreservedMapOptions & { values: "cloned" },
  ): PreservedMap<V>;
  static create(
    arena: Arena,
    options?: PreservedMapOptions & { values?: ValueKind },
  ): PreservedMap<unknown> {
    checkArena("map create", arena);
    options = optionsOf("map create", options);
    const keys = checkInteger("map keys", options.keys ?? 0, 0, 2 ** 31);
    const bytes = checkInteger("map bytes", options.bytes ?? 0, 0, MAX_VALUE_BYTES);
    if (options.values !== undefined && options.values !== "bytes" && options.values !== "cloned") {
      throw new LuoError(
        "EINVAL",
        `map values: "bytes" or "cloned", got ${String(options.values)}`,
      );
    }
    const core = MapCore.create(arena, options.values === "cloned" ? KVMAP_FLAGS.clonedValues : 0);
    try {
      core.reserve(keys, bytes);
    } catch (e) {
      core.free();
      throw e;
    }
    return new PreservedMap(core);
  }

  /** @internal Claims and opens the handed-over map at `pa` (the handler's retrieve). */
  static adopt(arena: Arena, pa: bigint): PreservedMap<unknown> {
    return new PreservedMap(new MapCore(arena, adoptMap(arena, pa)));
  }

  /** The arena side, or `EBADF` once the map or its arena is closed. */
  private live(): MapCore {
    if (this.isClosed) throw new LuoError("EBADF", "map is closed");
    if (this.arena.closed) {
      throw new LuoError(
        "EBADF",
        `map: arena ${this.arena.path} is closed (handed over or closed)`,
      );
    }
    return this.core;
  }

  /**
   * Number of keys.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(1)).set("b", new Uint8Array(1));
   * console.log(map.size); // 2
   * ```
   */
  get size(): number {
    return this.live().state.count;
  }

  /**
   * The value of `key`, or `undefined`. A bytes map returns a view of the
   * arena (valid until the next mutation of this map, see the class); a
   * cloned map returns a fresh copy.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("greeting", new TextEncoder().encode("hello"));
   * const kept = map.get("greeting")!.slice(); // copy what you keep across a mutation
   * map.set("greeting", new TextEncoder().encode("bye"));
   * console.log(new TextDecoder().decode(kept), map.get("absent")); // "hello" undefined
   * ```
   */
  get(key: MapKey): V | undefined {
    const core = this.live();
    core.keys.prepare(key);
    if (core.find() < 0) return undefined;
    const index = core.index;
    const view = new Uint8Array(
      core.buffer,
      index.found + RECORD.header + core.keys.length,
      index.valueLen,
    );
    return (this.cloned ? this.decode(view) : view) as V;
  }

  /** A cloned value's bytes as the value; damage is a typed error. */
  private decode(view: Uint8Array): unknown {
    try {
      return deserialize(view);
    } catch (e) {
      throw new CorruptImageError(
        `map value: the v8 data cannot be decoded (${(e as Error).message})`,
        `arena offset ${view.byteOffset}`,
      );
    }
  }

  /**
   * Whether `key` is in the map.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(0));
   * console.log(map.has("a"), map.has("b")); // true false
   * ```
   */
  has(key: MapKey): boolean {
    const core = this.live();
    core.keys.prepare(key);
    return core.find() >= 0;
  }

  /**
   * Sets `key` to `value` (a `Uint8Array`, copied in; any cloneable value for a cloned map).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * const value = new Uint8Array([1]);
   * map.set("a", value).set(new Uint8Array([0xff]), value); // string and byte keys
   * value[0] = 2; // copied in: the map keeps 1
   * console.log(map.get("a")); // Uint8Array [1]
   * ```
   */
  set(key: MapKey, value: V): this {
    const core = this.live();
    const bytes = this.encode(value);
    core.keys.prepare(key);
    core.set(bytes);
    return this;
  }

  /** The bytes that store `value`. */
  private encode(value: V): Uint8Array {
    if (this.cloned) {
      try {
        return serialize(value);
      } catch (e) {
        throw new LuoError("EINVAL", `map value cannot be cloned: ${(e as Error).message}`);
      }
    }
    if (!(value instanceof Uint8Array)) {
      throw new LuoError("EINVAL", `map value: a Uint8Array, got ${typeOf(value)}`);
    }
    if (isDetached(value)) throw new LuoError("EINVAL", "map value: its ArrayBuffer is detached");
    return value;
  }

  /**
   * Deletes `key`; returns whether it was there.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(1));
   * console.log(map.delete("a"), map.delete("a")); // true false
   * ```
   */
  delete(key: MapKey): boolean {
    const core = this.live();
    core.keys.prepare(key);
    return core.delete();
  }

  /**
   * Removes every key and frees all but one log segment.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * for (let i = 0; i < 100; i++) map.set(`k${i}`, new Uint8Array(8));
   * map.clear();
   * console.log(map.size, map.stats().segments); // 0 1
   * ```
   */
  clear(): void {
    this.live().clear();
  }

  /**
   * Grows the index for `keys` keys in all and the log for `bytes` more
   * bytes of keys and values now, instead of step by step later.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 4 << 20 });
   * using map = PreservedMap.create(arena);
   * map.reserve(10_000, 256 << 10); // before a bulk load
   * console.log(map.stats().slots >= 10_000); // true
   * ```
   */
  reserve(keys: number, bytes = 0): void {
    const core = this.live();
    core.reserve(
      checkInteger("map keys", keys, 0, 2 ** 31),
      checkInteger("map bytes", bytes, 0, MAX_VALUE_BYTES),
    );
  }

  /**
   * Reclaims every dead byte now (mutations do it a bounded step at a
   * time); returns the bytes freed. A head segment with dead bytes is
   * sealed first, which takes a new segment (as large as the old head when
   * memory allows; `ENOMEM` when there is no room for one at all: the map
   * is unchanged).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * for (let i = 0; i < 100; i++) map.set(`k${i}`, new Uint8Array(1000));
   * for (let i = 0; i < 100; i += 2) map.delete(`k${i}`); // half the records are dead
   * console.log(map.compact(), map.stats().deadBytes); // bytes freed, dead bytes left
   * ```
   */
  compact(): number {
    return this.live().compact();
  }

  /**
   * Counts and sizes.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(10));
   * const { keys, liveBytes, pages } = map.stats();
   * console.log(keys, liveBytes > 10, pages > 0); // 1 true true
   * ```
   */
  stats(): PreservedMapStats {
    const core = this.live();
    const st = core.state;
    const regions = core.regions();
    return {
      keys: st.count,
      slots: core.index.mask + 1,
      segments: regions.length - 2,
      liveBytes: st.live,
      deadBytes: st.dead,
      pages: regions.reduce((a, r) => a + r.pages, 0),
    };
  }

  /**
   * Every record, in slot order; `EBUSY` once the index is rebuilt. A
   * walk with no mutation in between checks the key count on the way.
   */
  private *records(): Generator<RecordRef> {
    const core = this.live();
    const layout = core.layout;
    const seq = core.journal.seq;
    const slots = core.index.mask + 1;
    let seen = 0;
    for (let i = 0; i < slots; i++) {
      this.live();
      if (core.layout !== layout) {
        throw new LuoError("EBUSY", "map: its index was rebuilt during iteration; iterate again");
      }
      const r = core.recordAt(i);
      if (r) {
        seen++;
        yield r;
      }
    }
    if (core.journal.seq === seq && seen !== core.state.count) {
      throw new CorruptImageError(
        `kvmap state: ${core.state.count} keys, the index holds ${seen}`,
        core.headerPa,
      );
    }
  }

  /** A record's key as it was set. */
  private keyOf(r: RecordRef): MapKey {
    const k = decodeKey(this.core.mem, r.at + RECORD.header, r.keyLen, r.keyFlags);
    if (k === undefined) {
      throw new CorruptImageError("map key: a string key is not UTF-8", `arena offset ${r.at}`);
    }
    return k;
  }

  /** A record's value (a view, or a copy for clones). */
  private valueOf(r: RecordRef): V {
    const view = new Uint8Array(this.core.buffer, r.at + RECORD.header + r.keyLen, r.valueLen);
    return (this.cloned ? this.decode(view) : view) as V;
  }

  /**
   * The keys: strings for keys set as strings, copies of the bytes otherwise.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(0)).set(new Uint8Array([0xff]), new Uint8Array(0));
   * console.log([...map.keys()].length); // 2: "a" and Uint8Array [255], in index order
   * ```
   */
  *keys(): IterableIterator<MapKey> {
    for (const r of this.records()) yield this.keyOf(r);
  }

  /**
   * The values (views or copies, as {@link get}).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array([1])).set("b", new Uint8Array([2]));
   * console.log([...map.values()].reduce((n, v) => n + v[0], 0)); // 3
   * ```
   */
  *values(): IterableIterator<V> {
    for (const r of this.records()) yield this.valueOf(r);
  }

  /**
   * The entries. Deleting or overwriting during iteration is fine; adding keys may end it (`EBUSY`).
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("old", new Uint8Array([1])).set("new", new Uint8Array([2]));
   * for (const [key, value] of map.entries()) if (value[0] === 1) map.delete(key);
   * console.log([...map.keys()]); // ["new"]
   * ```
   */
  *entries(): IterableIterator<[MapKey, V]> {
    for (const r of this.records()) yield [this.keyOf(r), this.valueOf(r)];
  }

  /**
   * Same as {@link entries}.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array([1]));
   * for (const [key, value] of map) console.log(key, value); // "a" Uint8Array [1]
   * ```
   */
  [Symbol.iterator](): IterableIterator<[MapKey, V]> {
    return this.entries();
  }

  /**
   * Calls `fn(value, key, map)` for every entry.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * using map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(3)).set("b", new Uint8Array(4));
   * let bytes = 0;
   * map.forEach((value) => (bytes += value.length));
   * console.log(bytes); // 7
   * ```
   */
  forEach(fn: (value: V, key: MapKey, map: this) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }

  /**
   * Whether the map is preserved in a session (it cannot be closed then).
   *
   * @example
   * ```ts
   * import { LiveUpdate, PreservedMap } from "@luo/live-update";
   * using luo = LiveUpdate.create({ size: 1 << 20 });
   * const map = PreservedMap.create(luo.arena);
   * luo.createSession("svc").preserve(map, 1n);
   * console.log(map.preserved); // true
   * ```
   */
  get preserved(): boolean {
    return this.isPreserved;
  }

  /**
   * Frees every page of the map. `EBUSY` while preserved. Idempotent.
   *
   * @example
   * ```ts
   * import { Arena } from "@luo/live-update/kho";
   * import { PreservedMap } from "@luo/live-update";
   * using arena = Arena.create({ size: 1 << 20 });
   * const map = PreservedMap.create(arena);
   * map.set("a", new Uint8Array(10));
   * map.close();
   * console.log(arena.info().allocatedPages); // 0
   * ```
   */
  close(): void {
    if (this.isClosed) return;
    if (this.isPreserved) {
      throw new LuoError("EBUSY", "map is preserved: unpreserve it before closing");
    }
    if (!this.arena.closed) this.core.free();
    this.isClosed = true;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal For the kvmap-v1 handler. */
  get [mapInternals](): MapInternals {
    const core = this.live();
    return {
      headerPa: core.headerPa,
      regions: () => this.live().regions(),
      setPreserved: (on) => (this.isPreserved = on),
      settle: () => this.live().settle(),
    };
  }
}
