/**
 * The real handed-over arenas the corruption fuzzer starts from, built the
 * same way every time (byte for byte), and their layout: where every
 * structure the mutations aim at lives.
 *
 * @module
 */

import { BlockChain } from "../lib/block.ts";
import {
  ARENA_HEADER,
  type ChainLayout,
  EXTENT_CHAIN,
  FILE_CHAIN,
  MEM_MAP_CHAIN,
  MEMFD_SER,
  SESSION_CHAIN,
} from "../lib/abi.ts";
import { MemFile } from "../lib/handlers/memfd.ts";
import { readImage } from "../lib/image.ts";
import { Arena } from "../lib/kho.ts";
import { LiveUpdate } from "../lib/luo.ts";

/** The handler of the page-less files of the shapes (re-exported for the runner). */
export { bareHandler as numberHandler } from "../tests/fixtures.ts";
import { bareHandler } from "../tests/fixtures.ts";

/** Names of the shapes. */
export const SHAPES = ["empty", "one", "files", "sessions"] as const;
/** A shape name. */
export type Shape = typeof SHAPES[number];

const ARENA_SIZE = 16 << 20;
const enc = new TextEncoder();

function build(luo: LiveUpdate, shape: Shape): void {
  const a = luo.arena;
  if (shape === "one") {
    const s = luo.createSession("one");
    s.preserve(MemFile.create(a), 0n);
    s.preserve(MemFile.from(a, enc.encode("hello, successor")), 1n);
    const multi = MemFile.create(a);
    for (let i = 0; i < 3; i++) multi.write(new Uint8Array(5000 * (i + 1)).fill(i + 1));
    s.preserve(multi, 2n);
  } else if (shape === "files") {
    const s = luo.createSession("files");
    for (let i = 0; i < 2000; i++) {
      s.preserve(
        i % 10 === 0 ? MemFile.from(a, enc.encode(`file ${i}`)) : { t: BigInt(i * 7) },
        BigInt(i),
      );
    }
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
  /** memfd descriptor pages. */
  descriptors: bigint[];
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
  const luo = LiveUpdate.create({ path, size: ARENA_SIZE, handlers: [bareHandler] });
  build(luo, shape);
  luo.handover();
  const bytes = Deno.readFileSync(path);
  const layout = readLayout(path);
  Deno.removeSync(path);
  return { shape, bytes, layout };
}

function readLayout(path: string): Layout {
  using arena = Arena.open(path, { readOnly: true });
  const image = readImage(arena, arena.incomingRoot, {
    claim: false,
    maxBlocks: 1 << 20,
    known: () => true,
  });
  const dv = arena.dataView;
  const hdr = (off: number) => dv.getBigUint64(off, true); // an arena header field
  const chains: ChainInfo[] = [];
  const walk = (
    kind: ChainInfo["kind"],
    layout: ChainLayout,
    first: bigint,
  ) => {
    if (first === 0n) return;
    const l = { ...layout, what: kind };
    chains.push({
      kind,
      ...layout,
      blocks: BlockChain.walk(arena, l, first, 1 << 20, kind).map((b) => b.pa),
    });
  };
  walk("map", MEM_MAP_CHAIN, hdr(ARENA_HEADER.memMapPa));
  walk("session", SESSION_CHAIN, image.sessionHeader);
  const sessionEntries: bigint[] = [];
  for (const b of image.sessionBlocks) {
    for (let k = 0; k < b.count; k++) {
      sessionEntries.push(b.pa + BigInt(16 + k * SESSION_CHAIN.entrySize));
    }
  }
  const fileEntries: bigint[][] = [];
  const descriptors: bigint[] = [];
  for (const s of image.sessions) {
    walk("file", FILE_CHAIN, s.filesPa);
    const entries: bigint[] = [];
    for (const b of s.fileBlocks) {
      for (let k = 0; k < b.count; k++) entries.push(b.pa + BigInt(16 + k * FILE_CHAIN.entrySize));
    }
    fileEntries.push(entries);
    for (const f of s.entries.records()) {
      if (f.compatible !== "memfd-v1") continue;
      descriptors.push(f.data);
      walk(
        "extent",
        EXTENT_CHAIN,
        dv.getBigUint64(arena.offsetOf(f.data, 32) + MEMFD_SER.extentsPa, true),
      );
    }
  }
  return {
    size: arena.size,
    khoFdt: image.khoRoot,
    luoFdt: image.luoFdt,
    chains,
    sessionEntries,
    fileEntries,
    descriptors,
  };
}
