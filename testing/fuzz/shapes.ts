/**
 * The real handed-over arenas the corruption fuzzer starts from, built the
 * same way every time (byte for byte), and their layout: where every
 * structure the mutations aim at lives.
 *
 * @module
 */

import { ARENA_HEADER, MEM_MAP_CHAIN } from "../../lib/format/arena_header.ts";
import { BLOCK_HEADER, BlockChain, type ChainLayout } from "../../lib/format/block.ts";
import { FILE_CHAIN } from "../../lib/format/file_ser.ts";
import { EXTENT_CHAIN, MEMFD_V1, readMemfdDescriptor } from "../../lib/format/memfd_ser.ts";
import { MEMFD_V2, readMemfdV2, slotOf } from "../../lib/format/memfd_v2_ser.ts";
import { SESSION_CHAIN } from "../../lib/format/session_ser.ts";
import { Arena } from "../../lib/kho/arena.ts";
import { readImage } from "../../lib/luo/image.ts";
import { DIR, KVMAP_HEADER, KVMAP_V1, readKvHeader } from "../../lib/format/kvmap_ser.ts";
import { type KvState, STATE } from "../../lib/format/kvmap_state_ser.ts";
import { paOfPfn, RECORD, REF, SLOT } from "../../lib/format/kvmap_log_ser.ts";
import { LiveUpdate, MemFile, PreservedMap } from "../../mod.ts";
import { bareHandler } from "../bare_handler.ts";
import { apply, opAt } from "../kvmap_model.ts";

/** The handler of the page-less files of the shapes (re-exported for the runner). */
export { bareHandler as numberHandler } from "../bare_handler.ts";

/** Names of the shapes. */
export const SHAPES = ["empty", "one", "files", "sessions", "one-v1", "kvmap"] as const;
/** A shape name. */
export type Shape = typeof SHAPES[number];

const ARENA_SIZE = 16 << 20;
const enc = new TextEncoder();

function build(luo: LiveUpdate, shape: Shape): void {
  const a = luo.arena;
  if (shape === "one" || shape === "one-v1") {
    const s = luo.createSession("one");
    s.preserve(MemFile.create(a), 0n);
    s.preserve(MemFile.from(a, enc.encode("hello, successor")), 1n);
    const multi = MemFile.create(a);
    for (let i = 0; i < 3; i++) multi.write(new Uint8Array(5000 * (i + 1)).fill(i + 1));
    s.preserve(multi, 2n);
    const chained = MemFile.create(a); // more extents than memfd-v2 keeps inline
    for (let i = 0; i < 7; i++) chained.write(new Uint8Array(4096 << i).fill(i + 7));
    s.preserve(chained, 3n);
  } else if (shape === "files") {
    const s = luo.createSession("files");
    for (let i = 0; i < 2000; i++) {
      s.preserve(
        i % 10 === 0 ? MemFile.from(a, enc.encode(`file ${i}`)) : { t: BigInt(i * 7) },
        BigInt(i),
      );
    }
  } else if (shape === "kvmap") {
    const s = luo.createSession("maps");
    const map = PreservedMap.create(a);
    for (let i = 0; i < 3000; i++) apply(map, new Map(), opAt(4, i, 600, 300));
    s.preserve(map, 0n);
    const cloned = PreservedMap.create<unknown>(a, { values: "cloned" });
    cloned.set("config", { port: 8080, tags: ["a", "b"] });
    cloned.set("n", 42);
    s.preserve(cloned, 1n);
    s.preserve(MemFile.from(a, enc.encode("beside the maps")), 2n);
  } else if (shape === "sessions") {
    for (let i = 0; i < 300; i++) {
      const s = luo.createSession(`session-${i}`);
      for (let j = 0; j < i % 4; j++) {
        s.preserve(
          j === 1 ? MemFile.from(a, enc.encode(`s${i}f${j}`)) : { t: BigInt(i * 100 + j) },
          BigInt(j),
        );
      }
    }
  }
}

/** One chain of the image: its kind, capacity and block addresses in order. */
export interface ChainInfo {
  kind: "session" | "file" | "extent" | "map";
  perBlock: number;
  entrySize: number;
  blocks: bigint[];
}

/** Where the structures of a handed-over kvmap-v1 map are. */
export interface KvmapLayout {
  /** Its header page. */
  header: bigint;
  /** The committed state's sequence number and fields. */
  seq: number;
  state: KvState;
  /** The committed state copy. */
  stateCopy: bigint;
  /** The current directory half. */
  dir: bigint;
  /** Its segments. */
  segments: { pa: bigint; sealed: boolean }[];
  /** Live index slots (up to 64). */
  slots: bigint[];
  /** Records of live keys (up to 64). */
  records: bigint[];
}

/** Where the structures of a base arena are. */
export interface Layout {
  size: number;
  khoFdt: bigint;
  luoFdt: bigint;
  chains: ChainInfo[];
  /** Physical addresses of session entries. */
  sessionEntries: bigint[];
  /** File entries, grouped per session. */
  fileEntries: bigint[][];
  /** memfd-v1 descriptor pages. */
  descriptors: bigint[];
  /** memfd-v2 descriptors (slot addresses). */
  slots: bigint[];
  /** memfd-v2 descriptor pages. */
  descriptorPages: bigint[];
  /** kvmap-v1 maps. */
  kvmaps: KvmapLayout[];
}

/** A built base arena: its bytes and layout. */
export interface Base {
  shape: Shape;
  bytes: Uint8Array;
  layout: Layout;
}

/** Builds the base arena of `shape` in `dir` and reads its layout. */
export function buildBase(shape: Shape, dir: string): Base {
  const path = `${dir}/base-${shape}.arena`;
  const memfdFormat = shape === "one-v1" ? "memfd-v1" : "memfd-v2";
  const luo = LiveUpdate.create({ path, size: ARENA_SIZE, handlers: [bareHandler], memfdFormat });
  build(luo, shape);
  luo.handover();
  const bytes = Deno.readFileSync(path);
  const layout = readLayout(path);
  Deno.removeSync(path);
  return { shape, bytes, layout };
}

/** Addresses of the entries of a chain's blocks. */
function entriesOf(
  blocks: readonly { pa: bigint; count: number }[],
  layout: ChainLayout,
): bigint[] {
  return blocks.flatMap((b) =>
    Array.from(
      { length: b.count },
      (_, k) => b.pa + BigInt(BLOCK_HEADER.size + k * layout.entrySize),
    )
  );
}

function readLayout(path: string): Layout {
  using arena = Arena.open(path, { readOnly: true });
  const image = readImage(arena, arena.incomingRoot, {
    claim: false,
    maxBlocks: 1 << 20,
    known: "any",
  });
  const chains: ChainInfo[] = [];
  const walk = (kind: ChainInfo["kind"], layout: ChainLayout, head: bigint) => {
    if (head === 0n) return;
    const chain = BlockChain.incoming(arena, layout, head, { maxBlocks: 1 << 20, claim: false });
    chains.push({ kind, ...layout, blocks: chain.blocks.map((b) => b.pa) });
  };
  walk("map", MEM_MAP_CHAIN, arena.dataView.getBigUint64(ARENA_HEADER.memMapPa, true));
  walk("session", SESSION_CHAIN, image.sessionHeader);
  const fileEntries: bigint[][] = [];
  const descriptors: bigint[] = [];
  const kvmaps: KvmapLayout[] = [];
  const slots: bigint[] = [];
  const descriptorPages = new Set<bigint>();
  for (const s of image.sessions) {
    walk("file", FILE_CHAIN, s.entry.files);
    fileEntries.push(entriesOf(s.fileBlocks, FILE_CHAIN));
    for (const f of s.entries.records()) {
      if (f.compatible === KVMAP_V1) kvmaps.push(kvmapLayout(arena, f.data));
      if (f.compatible === MEMFD_V1) {
        descriptors.push(f.data);
        walk("extent", EXTENT_CHAIN, readMemfdDescriptor(arena, f.data).extentsPa);
      } else if (f.compatible === MEMFD_V2) {
        slots.push(f.data);
        descriptorPages.add(slotOf(f.data)!.page);
        walk("extent", EXTENT_CHAIN, readMemfdV2(arena, f.data).extentsPa);
      }
    }
  }
  return {
    size: arena.size,
    khoFdt: image.khoRoot,
    luoFdt: image.luoFdt,
    chains,
    sessionEntries: entriesOf(image.sessionBlocks, SESSION_CHAIN),
    fileEntries,
    descriptors,
    slots,
    descriptorPages: [...descriptorPages],
    kvmaps,
  };
}

function kvmapLayout(arena: Arena, header: bigint): KvmapLayout {
  const { seq, state, dir } = readKvHeader(arena, header);
  const words = arena.words;
  const index = Number(paOfPfn(state.indexPfn) - paOfPfn(0)) / 4;
  const base = (seg: number) => paOfPfn(dir[seg]!.pfn);
  const slots: bigint[] = [];
  const records: bigint[] = [];
  for (let i = 0; i < 2 ** state.indexLog2 && slots.length < 64; i++) {
    const w = index + i * SLOT.words;
    const lo = words[w + SLOT.refLo];
    if (lo === REF.empty || lo === REF.deleted) continue;
    slots.push(paOfPfn(state.indexPfn) + BigInt(i * SLOT.bytes));
    const seg = (words[w + SLOT.info] & 0xff) * 16 + (lo >>> 28);
    records.push(base(seg) + BigInt((lo & 0x0fffffff) * REF.unit));
  }
  return {
    header,
    seq,
    state,
    stateCopy: header + BigInt(KVMAP_HEADER.states + (seq & 1) * STATE.bytes),
    dir: header + BigInt(KVMAP_HEADER.dir + state.dirHalf * DIR.entries * DIR.entryBytes),
    segments: dir.flatMap((d, seg) => d ? [{ pa: base(seg), sealed: seg !== state.headSeg }] : []),
    slots,
    records: records.map((r) => r + BigInt(RECORD.hash)),
  };
}
