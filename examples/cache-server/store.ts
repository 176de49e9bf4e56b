/**
 * The cache's key-value store, kept in preservable memory: values are
 * appended to one memfd ("kv-values"), and every change is appended to a
 * second memfd ("kv-log": put/delete records with the key and where its
 * value is). The in-heap index (key → where) is rebuilt from the log by a
 * successor; the values themselves are never copied, they are the same
 * pages.
 *
 * @module
 */

import {
  type IncomingSession,
  type LiveUpdate,
  MemFile,
  type OutgoingSession,
  preserveManifest,
  readManifest,
} from "../../mod.ts";

/** Log record header: u8 op, u8 0, u16 key length, u32 value length, u64 value offset; then the key. */
const REC = { op: 0, keyLen: 2, valueLen: 4, valueOff: 8, size: 16 } as const;
const OP_PUT = 1;
const OP_DEL = 2;
/** Manifest kinds this build knows. */
export const KINDS = { values: "kv-values", log: "kv-log" } as const;
const TOKENS = { values: 1n, log: 2n } as const;
/** Largest key in bytes. */
export const MAX_KEY = 1024;

const enc = new TextEncoder();
const dec = new TextDecoder();

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

/** The store is full (HTTP 507). */
export class StoreFullError extends Error {}

/** Key → value bytes, in memfd pages. */
export class KvStore {
  readonly values: MemFile;
  readonly log: MemFile;
  #valuesUsed: number;
  #logUsed: number;
  #index = new Map<string, { off: number; len: number }>();
  #valueBytes: Uint8Array;
  #logBytes: Uint8Array;
  #logView: DataView;

  private constructor(values: MemFile, log: MemFile, valuesUsed: number, logUsed: number) {
    this.values = values;
    this.log = log;
    this.#valuesUsed = valuesUsed;
    this.#logUsed = logUsed;
    this.#valueBytes = values.bytes();
    this.#logBytes = log.bytes();
    this.#logView = new DataView(
      this.#logBytes.buffer,
      this.#logBytes.byteOffset,
      this.#logBytes.byteLength,
    );
  }

  /** An empty store with room for `capacity` value bytes and `logCapacity` log bytes. */
  static create(luo: LiveUpdate, capacity: number, logCapacity: number): KvStore {
    return new KvStore(
      MemFile.create(luo.arena, capacity),
      MemFile.create(luo.arena, logCapacity),
      0,
      0,
    );
  }

  /** Number of keys. */
  get size(): number {
    return this.#index.size;
  }

  /** Value bytes appended so far (overwritten values included). */
  get valuesUsed(): number {
    return this.#valuesUsed;
  }

  /** The value of `key`: a zero-copy view, valid until the handover. */
  get(key: string): Uint8Array | undefined {
    const e = this.#index.get(key);
    return e ? this.#valueBytes.subarray(e.off, e.off + e.len) : undefined;
  }

  /** Sets `key`. Throws {@link StoreFullError} when out of room. */
  put(key: string, value: Uint8Array): void {
    const k = enc.encode(key);
    if (k.length === 0 || k.length > MAX_KEY) {
      throw new RangeError(`key of ${k.length} bytes (1..${MAX_KEY})`);
    }
    if (this.#valuesUsed + value.length > this.#valueBytes.length) {
      throw new StoreFullError("values are full");
    }
    const off = this.#valuesUsed;
    this.#append(OP_PUT, k, value.length, off);
    this.#valueBytes.set(value, off);
    this.#valuesUsed += value.length;
    this.#index.set(key, { off, len: value.length });
  }

  /** Deletes `key`; returns whether it was there. */
  delete(key: string): boolean {
    if (!this.#index.has(key)) return false;
    this.#append(OP_DEL, enc.encode(key), 0, 0);
    this.#index.delete(key);
    return true;
  }

  #append(op: number, k: Uint8Array, len: number, off: number): void {
    const at = this.#logUsed;
    if (at + REC.size + k.length > this.#logBytes.length) throw new StoreFullError("log is full");
    const v = this.#logView;
    v.setUint8(at + REC.op, op);
    v.setUint8(at + 1, 0);
    v.setUint16(at + REC.keyLen, k.length, true);
    v.setUint32(at + REC.valueLen, len, true);
    v.setFloat64(at + REC.valueOff, off, true);
    this.#logBytes.set(k, at + REC.size);
    this.#logUsed = at + REC.size + k.length;
  }

  /** Preserves both memfds and the manifest in `session` (generation = the one handing over). */
  preserve(session: OutgoingSession, luo: LiveUpdate, generation: number): void {
    session.preserve(this.values, TOKENS.values);
    session.preserve(this.log, TOKENS.log);
    preserveManifest(session, luo.arena, {
      service: "cache-server",
      generation,
      entries: {
        [String(TOKENS.values)]: {
          kind: KINDS.values,
          version: 1,
          meta: { used: this.#valuesUsed },
        },
        [String(TOKENS.log)]: {
          kind: KINDS.log,
          version: 1,
          meta: { used: this.#logUsed, keys: this.size },
        },
      },
    });
  }

  /**
   * Rebuilds a store from a handed-over session: checks the manifest,
   * retrieves the memfds (same pages), replays the log into the index.
   * Unknown manifest entries are skipped (reported in `skipped`).
   */
  static restore(
    session: IncomingSession,
  ): { store: KvStore; generation: number; skipped: string[] } {
    const { manifest, skipped } = readManifest(session, Object.values(KINDS));
    const entry = (kind: string) =>
      Object.entries(manifest.entries).find(([, e]) => e.kind === kind);
    const v = entry(KINDS.values);
    const l = entry(KINDS.log);
    if (!v || !l) throw new Error("manifest lacks the values or the log");
    const values = session.retrieve(BigInt(v[0])) as MemFile;
    const log = session.retrieve(BigInt(l[0])) as MemFile;
    const store = new KvStore(
      values,
      log,
      Number(v[1].meta?.used ?? 0),
      Number(l[1].meta?.used ?? 0),
    );
    store.#replay();
    return {
      store,
      generation: manifest.generation,
      skipped: skipped.map((s) => `${s.token}:${s.kind}`),
    };
  }

  #replay(): void {
    const v = this.#logView;
    const b = this.#logBytes;
    for (let at = 0; at < this.#logUsed;) {
      const op = v.getUint8(at + REC.op);
      const klen = v.getUint16(at + REC.keyLen, true);
      const key = dec.decode(b.subarray(at + REC.size, at + REC.size + klen));
      if (op === OP_PUT) {
        const len = v.getUint32(at + REC.valueLen, true);
        const off = v.getFloat64(at + REC.valueOff, true);
        if (off + len > this.#valuesUsed) {
          throw new Error(`log record at ${at}: value outside the used bytes`);
        }
        this.#index.set(key, { off, len });
      } else if (op === OP_DEL) {
        this.#index.delete(key);
      } else {
        throw new Error(`log record at ${at}: unknown op ${op}`);
      }
      at += REC.size + klen;
    }
  }

  /** The used bytes of the values and the log, for a snapshot file. */
  snapshot(): Uint8Array {
    const head = new Uint8Array(16);
    const dv = new DataView(head.buffer);
    dv.setFloat64(0, this.#valuesUsed, true);
    dv.setFloat64(8, this.#logUsed, true);
    const out = new Uint8Array(16 + this.#valuesUsed + this.#logUsed);
    out.set(head);
    out.set(this.#valueBytes.subarray(0, this.#valuesUsed), 16);
    out.set(this.#logBytes.subarray(0, this.#logUsed), 16 + this.#valuesUsed);
    return out;
  }

  /** Loads a snapshot into a new store (the usual restart: every byte is copied). */
  static fromSnapshot(
    luo: LiveUpdate,
    snap: Uint8Array,
    capacity: number,
    logCapacity: number,
  ): KvStore {
    const dv = new DataView(snap.buffer, snap.byteOffset, 16);
    const valuesUsed = dv.getFloat64(0, true);
    const logUsed = dv.getFloat64(8, true);
    const store = KvStore.create(
      luo,
      Math.max(capacity, valuesUsed),
      Math.max(logCapacity, logUsed),
    );
    store.#valueBytes.set(snap.subarray(16, 16 + valuesUsed));
    store.#logBytes.set(snap.subarray(16 + valuesUsed, 16 + valuesUsed + logUsed));
    store.#valuesUsed = valuesUsed;
    store.#logUsed = logUsed;
    store.#replay();
    return store;
  }
}
