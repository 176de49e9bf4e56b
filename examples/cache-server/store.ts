/**
 * The cache's key-value store, entirely in preservable memory so that a
 * successor uses it as it is, with nothing to copy or rebuild:
 *
 * - "kv-values" (memfd): value bytes, appended;
 * - "kv-log" (memfd): one record per put or delete (key, where its value is);
 * - "kv-table" (memfd): an open-addressing hash table, key hash → the
 *   offset of the key's latest put record in the log.
 *
 * A lookup hashes the key, probes the table and compares the key bytes in
 * the log record. The manifest at token 0 says which token is which and
 * how much of each file is used.
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

/** Log record header: u8 op, u8 0, u16 key length, u32 value length, f64 value offset; then the key. */
const REC = { op: 0, keyLen: 2, valueLen: 4, valueOff: 8, size: 16 } as const;
const OP_PUT = 1;
const OP_DEL = 2;
/** Table slot values: 0 = empty, -1 = deleted, else log offset + 1. */
const EMPTY = 0;
const TOMBSTONE = -1;
/** Manifest kinds this build knows. */
export const KINDS = { values: "kv-values", log: "kv-log", table: "kv-table" } as const;
const TOKENS = { values: 1n, log: 2n, table: 3n } as const;
/** Largest key in bytes. */
export const MAX_KEY = 1024;
/** Largest value in bytes. */
export const MAX_VALUE = 2 ** 31 - 1;

const enc = new TextEncoder();

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

function fnv1a(b: Uint8Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}

/** Key → value bytes, in memfd pages. */
export class KvStore {
  readonly values: MemFile;
  readonly log: MemFile;
  readonly table: MemFile;
  #valuesUsed: number;
  #logUsed: number;
  #keys: number;
  #dead: number; // tombstones
  #valueBytes: Uint8Array;
  #logBytes: Uint8Array;
  #logView: DataView;
  #slots: Float64Array;
  #mask: number;
  #key = new Uint8Array(MAX_KEY * 3);

  private constructor(
    values: MemFile,
    log: MemFile,
    table: MemFile,
    used: [number, number, number, number],
  ) {
    this.values = values;
    this.log = log;
    this.table = table;
    [this.#valuesUsed, this.#logUsed, this.#keys, this.#dead] = used;
    this.#valueBytes = values.bytes();
    this.#logBytes = log.bytes();
    this.#logView = new DataView(
      this.#logBytes.buffer,
      this.#logBytes.byteOffset,
      this.#logBytes.byteLength,
    );
    const t = table.bytes();
    this.#slots = new Float64Array(t.buffer, t.byteOffset, t.byteLength / 8);
    this.#mask = this.#slots.length - 1;
  }

  /** An empty store for `maxKeys` keys, `capacity` value bytes and `logCapacity` log bytes. */
  static create(luo: LiveUpdate, capacity: number, logCapacity: number, maxKeys: number): KvStore {
    const slots = 2 ** Math.ceil(Math.log2(Math.max(16, maxKeys * 2)));
    return new KvStore(
      MemFile.create(luo.arena, capacity),
      MemFile.create(luo.arena, logCapacity),
      MemFile.create(luo.arena, slots * 8),
      [0, 0, 0, 0],
    );
  }

  /** Number of keys. */
  get size(): number {
    return this.#keys;
  }

  /** Value bytes appended so far (overwritten values included). */
  get valuesUsed(): number {
    return this.#valuesUsed;
  }

  /** Encodes `key` into the scratch buffer; returns its length. */
  #encode(key: string): number {
    const { read, written } = enc.encodeInto(key, this.#key);
    if (written === 0 || written > MAX_KEY || read !== key.length) {
      throw new RangeError(`key of ${enc.encode(key).length} bytes (1..${MAX_KEY})`);
    }
    return written;
  }

  /** Whether the log record at `rec` holds the key in the scratch buffer. */
  #same(rec: number, n: number): boolean {
    if (this.#logView.getUint16(rec + REC.keyLen, true) !== n) return false;
    const b = this.#logBytes;
    const k = this.#key;
    for (let i = 0, at = rec + REC.size; i < n; i++, at++) if (b[at] !== k[i]) return false;
    return true;
  }

  /** The slot of the key in the scratch buffer (found: slot >= 0; else ~first free slot). */
  #find(n: number): number {
    const slots = this.#slots;
    let free = -1;
    for (
      let i = fnv1a(this.#key, n) & this.#mask, probes = 0;
      probes <= this.#mask;
      i = (i + 1) & this.#mask, probes++
    ) {
      const s = slots[i];
      if (s === EMPTY) return ~(free >= 0 ? free : i);
      if (s === TOMBSTONE) {
        if (free < 0) free = i;
      } else if (this.#same(s - 1, n)) return i;
    }
    return ~free;
  }

  /** The value of `key`: a zero-copy view, valid until the handover. */
  get(key: string): Uint8Array | undefined {
    const slot = this.#find(this.#encode(key));
    if (slot < 0) return undefined;
    const rec = this.#slots[slot] - 1;
    const off = this.#logView.getFloat64(rec + REC.valueOff, true);
    return this.#valueBytes.subarray(off, off + this.#logView.getUint32(rec + REC.valueLen, true));
  }

  /** Sets `key`. Throws {@link StoreFullError} when out of room. */
  put(key: string, value: Uint8Array): void {
    const n = this.#encode(key);
    if (value.length > MAX_VALUE) {
      throw new RangeError(`value of ${value.length} bytes (at most ${MAX_VALUE})`);
    }
    if (this.#valuesUsed + value.length > this.#valueBytes.length) {
      throw new StoreFullError("values are full");
    }
    const slot = this.#find(n);
    if (slot < 0 && (this.#keys + this.#dead + 1) * 4 > (this.#mask + 1) * 3) {
      throw new StoreFullError("table is full");
    }
    const off = this.#valuesUsed;
    const rec = this.#append(OP_PUT, n, value.length, off);
    this.#valueBytes.set(value, off);
    this.#valuesUsed += value.length;
    if (slot >= 0) {
      this.#slots[slot] = rec + 1;
    } else {
      if (this.#slots[~slot] === TOMBSTONE) this.#dead--;
      this.#slots[~slot] = rec + 1;
      this.#keys++;
    }
  }

  /** Deletes `key`; returns whether it was there. */
  delete(key: string): boolean {
    const n = this.#encode(key);
    const slot = this.#find(n);
    if (slot < 0) return false;
    this.#append(OP_DEL, n, 0, 0);
    this.#slots[slot] = TOMBSTONE;
    this.#keys--;
    this.#dead++;
    return true;
  }

  /** Appends a record for the key in the scratch buffer; returns its offset. */
  #append(op: number, n: number, len: number, off: number): number {
    const at = this.#logUsed;
    if (at + REC.size + n > this.#logBytes.length) throw new StoreFullError("log is full");
    const v = this.#logView;
    v.setUint8(at + REC.op, op);
    v.setUint8(at + 1, 0);
    v.setUint16(at + REC.keyLen, n, true);
    v.setUint32(at + REC.valueLen, len, true);
    v.setFloat64(at + REC.valueOff, off, true);
    this.#logBytes.set(this.#key.subarray(0, n), at + REC.size);
    this.#logUsed = at + REC.size + n;
    return at;
  }

  /** Preserves the three memfds and the manifest in `session` (generation = the one handing over). */
  preserve(session: OutgoingSession, luo: LiveUpdate, generation: number): void {
    session.preserve(this.values, TOKENS.values);
    session.preserve(this.log, TOKENS.log);
    session.preserve(this.table, TOKENS.table);
    preserveManifest(session, luo.arena, {
      service: "cache-server",
      generation,
      entries: {
        [String(TOKENS.values)]: {
          kind: KINDS.values,
          version: 1,
          meta: { used: this.#valuesUsed },
        },
        [String(TOKENS.log)]: { kind: KINDS.log, version: 1, meta: { used: this.#logUsed } },
        [String(TOKENS.table)]: {
          kind: KINDS.table,
          version: 1,
          meta: { keys: this.#keys, dead: this.#dead },
        },
      },
    });
  }

  /**
   * Takes over a handed-over store: checks the manifest, retrieves the
   * memfds (the same pages) and uses them as they are. Unknown manifest
   * entries are skipped (reported in `skipped`).
   */
  static restore(
    session: IncomingSession,
  ): { store: KvStore; generation: number; skipped: string[] } {
    const { manifest, skipped } = readManifest(session, Object.values(KINDS));
    const entry = (kind: string) => {
      const e = Object.entries(manifest.entries).find(([, x]) => x.kind === kind);
      if (!e || e[1].version !== 1) throw new Error(`manifest: no usable "${kind}" entry`);
      return { file: session.retrieve(BigInt(e[0]), MemFile), meta: e[1].meta ?? {} };
    };
    const v = entry(KINDS.values);
    const l = entry(KINDS.log);
    const t = entry(KINDS.table);
    const used: [number, number, number, number] = [
      Number(v.meta.used),
      Number(l.meta.used),
      Number(t.meta.keys),
      Number(t.meta.dead),
    ];
    if (
      used.some((x) => !Number.isSafeInteger(x) || x < 0) || used[0] > v.file.size ||
      used[1] > l.file.size
    ) {
      throw new Error(`manifest: used sizes ${used} do not fit the files`);
    }
    const store = new KvStore(v.file, l.file, t.file, used);
    return {
      store,
      generation: manifest.generation,
      skipped: skipped.map((s) => `${s.token}:${s.kind}`),
    };
  }

  /** The three files, for a snapshot file (the usual restart). */
  snapshot(): Uint8Array {
    const parts = [
      this.#valueBytes.subarray(0, this.#valuesUsed),
      this.#logBytes.subarray(0, this.#logUsed),
      this.table.bytes(),
    ];
    const head = new Float64Array([
      this.#valuesUsed,
      this.#logUsed,
      this.#keys,
      this.#dead,
      this.#slots.length,
    ]);
    const out = new Uint8Array(head.byteLength + parts.reduce((a, p) => a + p.length, 0));
    out.set(new Uint8Array(head.buffer));
    let at = head.byteLength;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Loads a snapshot into a new store (the usual restart: every byte is copied). */
  static fromSnapshot(
    luo: LiveUpdate,
    snap: Uint8Array,
    capacity: number,
    logCapacity: number,
  ): KvStore {
    const head = new Float64Array(snap.slice(0, 40).buffer);
    const [valuesUsed, logUsed, keys, dead, slots] = head;
    const s = KvStore.create(
      luo,
      Math.max(capacity, valuesUsed),
      Math.max(logCapacity, logUsed),
      slots / 2,
    );
    let at = 40;
    s.#valueBytes.set(snap.subarray(at, at + valuesUsed));
    at += valuesUsed;
    s.#logBytes.set(snap.subarray(at, at + logUsed));
    at += logUsed;
    s.table.bytes().set(snap.subarray(at, at + slots * 8));
    [s.#valuesUsed, s.#logUsed, s.#keys, s.#dead] = [valuesUsed, logUsed, keys, dead];
    return s;
  }
}
