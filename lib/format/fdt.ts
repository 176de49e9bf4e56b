/**
 * Flattened device tree (DTB) writer and reader: the real format read by
 * `dtc -I dtb -O dts` and libfdt (big-endian header and tokens, a
 * structure block and a strings block, version 17).
 *
 * u64 property values are stored as 8 little-endian bytes, as the kernel
 * does on x86-64.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";

// ignoreBOM: strings keep a leading U+FEFF (the default decoder drops it).
const FATAL_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });
const ENCODER = new TextEncoder();

/** DTB magic number. */
export const FDT_MAGIC = 0xd00dfeed;
const FDT_VERSION = 17;
const FDT_LAST_COMP_VERSION = 16;
/** Bytes of a DTB header. */
export const FDT_HEADER_SIZE = 40;
const RSVMAP_SIZE = 16; // one terminating {0, 0} entry
const TOKEN = { beginNode: 1, endNode: 2, prop: 3, nop: 4, end: 9 } as const;
/** Deepest nesting the reader accepts. */
export const MAX_DEPTH = 16;

/** A device tree node. */
export interface FdtNode {
  /** Node name ("" for the root). */
  name: string;
  /** Properties by name, raw bytes. */
  props: Map<string, Uint8Array>;
  /** Child nodes, in order. */
  children: FdtNode[];
}

/** Makes a node. */
export function node(
  name: string,
  props: Record<string, Uint8Array> = {},
  children: FdtNode[] = [],
): FdtNode {
  return { name, props: new Map(Object.entries(props)), children };
}

/** A NUL-terminated string property value. */
export function strProp(s: string): Uint8Array {
  return ENCODER.encode(s + "\0");
}

/** A u64 property value: 8 little-endian bytes. */
export function u64Prop(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, v, true);
  return b;
}

/** Reads a u64 property written by {@link u64Prop}; `null` when absent or not 8 bytes. */
export function getU64(n: FdtNode, name: string): bigint | null {
  const v = n.props.get(name);
  if (!v || v.length !== 8) return null;
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

/** Reads a string property; `null` when absent or not NUL-terminated. */
export function getString(n: FdtNode, name: string): string | null {
  const v = n.props.get(name);
  if (!v || v.length === 0 || v[v.length - 1] !== 0) return null;
  return UTF8.decode(v.subarray(0, v.indexOf(0)));
}

/** The child of `n` called `name`, if any. */
export function child(n: FdtNode, name: string): FdtNode | undefined {
  return n.children.find((c) => c.name === name);
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Serializes a tree rooted at `root` into DTB bytes. */
export function writeFdt(root: FdtNode): Uint8Array {
  const enc = ENCODER;
  const strings: number[] = [];
  const stringOff = new Map<string, number>();
  const struct: number[] = [];
  const u32 = (v: number) =>
    struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const bytes = (b: Uint8Array) => {
    for (const x of b) struct.push(x);
    while (struct.length % 4) struct.push(0);
  };
  const nameOff = (name: string) => {
    let off = stringOff.get(name);
    if (off === undefined) {
      off = strings.length;
      stringOff.set(name, off);
      for (const x of enc.encode(name)) strings.push(x);
      strings.push(0);
    }
    return off;
  };
  const emit = (n: FdtNode) => {
    u32(TOKEN.beginNode);
    bytes(enc.encode(n.name + "\0"));
    for (const [name, value] of n.props) {
      u32(TOKEN.prop);
      u32(value.length);
      u32(nameOff(name));
      bytes(value);
    }
    for (const c of n.children) emit(c);
    u32(TOKEN.endNode);
  };
  emit(root);
  u32(TOKEN.end);
  const offRsv = FDT_HEADER_SIZE;
  const offStruct = offRsv + RSVMAP_SIZE;
  const offStrings = offStruct + struct.length;
  const total = pad4(offStrings + strings.length);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    total,
    offStruct,
    offStrings,
    offRsv,
    FDT_VERSION,
    FDT_LAST_COMP_VERSION,
    0,
    strings.length,
    struct.length,
  ];
  header.forEach((v, i) => dv.setUint32(i * 4, v));
  out.set(struct, offStruct);
  out.set(strings, offStrings);
  return out;
}

/** The validated header fields of a DTB. */
interface FdtHeader {
  total: number;
  offStruct: number;
  offStrings: number;
  sizeStrings: number;
  sizeStruct: number;
}

/** Reads the DTB header of `blob`, checking every block lies inside `totalsize`. */
function readHeader(blob: Uint8Array, bad: (msg: string) => never): FdtHeader {
  if (blob.length < FDT_HEADER_SIZE) bad(`${blob.length} bytes is smaller than the header`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const h = (i: number) => dv.getUint32(i * 4);
  if (h(0) !== FDT_MAGIC) bad(`bad magic 0x${h(0).toString(16)}, want 0x${FDT_MAGIC.toString(16)}`);
  const [total, offStruct, offStrings, version, lastComp, sizeStrings, sizeStruct] = [
    h(1),
    h(2),
    h(3),
    h(5),
    h(6),
    h(8),
    h(9),
  ];
  if (total > blob.length || total < FDT_HEADER_SIZE) {
    bad(`totalsize ${total} outside 40..${blob.length}`);
  }
  if (version < FDT_LAST_COMP_VERSION || lastComp > FDT_VERSION) {
    bad(
      `version ${version} (last compatible ${lastComp}) is not readable; this reader reads 16..17`,
    );
  }
  if (
    offStruct % 4 || offStruct < FDT_HEADER_SIZE || offStruct + sizeStruct > total ||
    sizeStruct % 4
  ) {
    bad(`structure block ${offStruct}+${sizeStruct} outside ${total} bytes or unaligned`);
  }
  if (offStrings < FDT_HEADER_SIZE || offStrings + sizeStrings > total) {
    bad(`strings block ${offStrings}+${sizeStrings} outside ${total} bytes`);
  }
  return { total, offStruct, offStrings, sizeStrings, sizeStruct };
}

/** One pass over the structure block of a DTB whose header was validated. */
class StructReader {
  #blob: Uint8Array;
  #dv: DataView;
  #h: FdtHeader;
  #bad: (msg: string) => never;
  #p: number;
  #end: number;
  #stack: FdtNode[] = [];
  #root: FdtNode | null = null;

  constructor(blob: Uint8Array, h: FdtHeader, bad: (msg: string) => never) {
    this.#blob = blob;
    this.#dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    this.#h = h;
    this.#bad = bad;
    this.#p = h.offStruct;
    this.#end = h.offStruct + h.sizeStruct;
  }

  #token(): number {
    if (this.#p + 4 > this.#end) {
      this.#bad(`structure block ends inside a token at offset ${this.#p}`);
    }
    const t = this.#dv.getUint32(this.#p);
    this.#p += 4;
    return t;
  }

  #string(off: number, end: number, what: string): [string, number] {
    const nul = this.#blob.subarray(off, end).indexOf(0);
    if (nul < 0) this.#bad(`${what} at offset ${off} is not NUL-terminated`);
    try {
      return [FATAL_UTF8.decode(this.#blob.subarray(off, off + nul)), off + nul + 1];
    } catch {
      return this.#bad(`${what} at offset ${off} is not UTF-8`);
    }
  }

  #beginNode(): void {
    const at = this.#p - 4;
    if (this.#root && this.#stack.length === 0) this.#bad(`second root node at offset ${at}`);
    if (this.#stack.length >= MAX_DEPTH) {
      this.#bad(`nesting deeper than ${MAX_DEPTH} at offset ${at}`);
    }
    const [name, after] = this.#string(this.#p, this.#end, "node name");
    this.#p = pad4(after - this.#h.offStruct) + this.#h.offStruct;
    const n: FdtNode = { name, props: new Map(), children: [] };
    if (this.#stack.length) this.#stack[this.#stack.length - 1].children.push(n);
    else this.#root = n;
    this.#stack.push(n);
  }

  #prop(): void {
    if (!this.#stack.length) this.#bad(`property outside a node at offset ${this.#p - 4}`);
    const len = this.#token();
    const nameOff = this.#token();
    const { offStruct, offStrings, sizeStrings } = this.#h;
    if (len > this.#end - this.#p) {
      this.#bad(`property of ${len} bytes at offset ${this.#p} runs past the structure block`);
    }
    if (nameOff >= sizeStrings) {
      this.#bad(`property name offset ${nameOff} outside the strings block`);
    }
    const [name] = this.#string(offStrings + nameOff, offStrings + sizeStrings, "property name");
    const cur = this.#stack[this.#stack.length - 1];
    if (cur.props.has(name)) this.#bad(`duplicate property "${name}" in node "${cur.name}"`);
    cur.props.set(name, this.#blob.slice(this.#p, this.#p + len));
    this.#p = offStruct + pad4(this.#p + len - offStruct);
  }

  /** Reads the whole structure block; returns the root node. */
  run(): FdtNode {
    // Every iteration consumes at least 4 bytes: the loop is bounded by the block size.
    for (let guard = 0; guard <= this.#h.sizeStruct / 4; guard++) {
      const t = this.#token();
      if (t === TOKEN.nop) continue;
      if (t === TOKEN.beginNode) this.#beginNode();
      else if (t === TOKEN.prop) this.#prop();
      else if (t === TOKEN.endNode) {
        if (!this.#stack.length) this.#bad(`unbalanced end of node at offset ${this.#p - 4}`);
        this.#stack.pop();
      } else if (t === TOKEN.end) {
        if (this.#stack.length || !this.#root) {
          this.#bad(`end token at offset ${this.#p - 4} with ${this.#stack.length} nodes open`);
        }
        return this.#root!;
      } else {
        this.#bad(`unknown token 0x${t.toString(16)} at offset ${this.#p - 4}`);
      }
    }
    return this.#bad("structure block has no end token");
  }
}

/**
 * Parses DTB bytes with full validation. `where` names the blob (e.g. its
 * physical address) in errors; every error is a {@link CorruptImageError}.
 */
export function readFdt(blob: Uint8Array, where: bigint | string): FdtNode {
  const bad = (msg: string): never => {
    throw new CorruptImageError(`device tree: ${msg}`, where);
  };
  return new StructReader(blob, readHeader(blob, bad), bad).run();
}

/** Size in bytes of the DTB at the start of `blob` (its header's totalsize), validated. */
export function fdtTotalSize(blob: Uint8Array, where: bigint | string): number {
  if (blob.length < FDT_HEADER_SIZE) {
    throw new CorruptImageError("device tree: truncated header", where);
  }
  const dv = new DataView(blob.buffer, blob.byteOffset, FDT_HEADER_SIZE);
  if (dv.getUint32(0) !== FDT_MAGIC) {
    throw new CorruptImageError(`device tree: bad magic 0x${dv.getUint32(0).toString(16)}`, where);
  }
  return dv.getUint32(4);
}

function isPrintableString(v: Uint8Array): boolean {
  if (v.length === 0 || v[v.length - 1] !== 0) return false;
  for (let i = 0; i < v.length - 1; i++) if (v[i] < 0x20 || v[i] > 0x7e) return false;
  return true;
}

/** Renders a tree as device tree source text (strings quoted, other values as bytes). */
export function toDts(root: FdtNode, indent = ""): string {
  const lines = [`${indent}${root.name || "/"} {`];
  for (const [name, v] of root.props) {
    const value = isPrintableString(v)
      ? `"${new TextDecoder().decode(v.subarray(0, v.length - 1))}"`
      : `[${[...v].map((b) => b.toString(16).padStart(2, "0")).join(" ")}]` +
        (v.length === 8
          ? ` /* u64 0x${
            new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true).toString(16)
          } */`
          : "");
    lines.push(`${indent}\t${name} = ${value};`);
  }
  for (const c of root.children) lines.push(toDts(c, indent + "\t"));
  lines.push(`${indent}};`);
  return lines.join("\n");
}
