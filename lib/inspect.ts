/**
 * Looks inside an arena without changing it: the header, the decoded KHO
 * and LUO device trees, sessions and files, every block chain, the
 * preserved regions and the regions nobody references. On damaged data it
 * reports what it could read and the typed error for the rest.
 *
 * @module
 */

import { ARENA_HEADER, BLOCK_HEADER, COMPAT, MEM_MAP_CHAIN, MEMFD_SER } from "./abi.ts";
import { BlockChain } from "./block.ts";
import { LiveUpdateError } from "./errors.ts";
import { toDts } from "./fdt.ts";
import { describeMemfd } from "./handlers/memfd.ts";
import { readImage } from "./image.ts";
import { Arena, PAGE_SIZE, PHYS_BASE } from "./kho.ts";

/** Arena header fields. */
export interface HeaderReport {
  magic: string;
  version: number;
  pageSize: number;
  size: number;
  physBase: string;
  fdtPa: string;
  memMapPa: string;
  handovers: number;
}

/** One file of a session. */
export interface FileReport {
  token: string;
  compatible: string;
  data: string;
  size?: number;
  position?: number;
  extents?: number;
  error?: string;
}

/** One session. */
export interface SessionReport {
  name: string;
  files: FileReport[];
  /** Entries per file block. */
  fileBlocks: number[];
}

/** A region of pages. */
export interface RegionReport {
  pa: string;
  pages: number;
  /** What references it (absent for unclaimed regions). */
  what?: string;
}

/** Everything {@link inspectArena} found. */
export interface InspectReport {
  path: string;
  header: HeaderReport;
  pages: { total: number; handedOver: number; handedOverBlocks: number; free: number };
  handedOver: boolean;
  khoFdt?: string;
  luoFdt?: string;
  liveupdateNumber?: string;
  format?: string;
  /** Entries per session block. */
  sessionBlocks?: number[];
  sessions?: SessionReport[];
  /** Blocks of the native preserved-memory map, entries per block. */
  memMapBlocks?: number[];
  regions: RegionReport[];
  unclaimed: RegionReport[];
  /** The typed error met while reading, if any. */
  error?: { code: string; message: string };
}

const hex = (v: bigint) => "0x" + v.toString(16);

function readHeader(path: string): HeaderReport {
  const f = Deno.openSync(path, { read: true });
  try {
    const H = ARENA_HEADER;
    const b = new Uint8Array(H.length);
    const n = f.readSync(b) ?? 0;
    const dv = new DataView(b.buffer);
    return {
      magic: new TextDecoder().decode(b.subarray(0, 8)).replace(/[^\x20-\x7e]/g, "?"),
      version: n >= H.version + 4 ? dv.getUint32(H.version, true) : 0,
      pageSize: n >= H.pageSize + 4 ? dv.getUint32(H.pageSize, true) : 0,
      size: n >= H.size + 8 ? Number(dv.getBigUint64(H.size, true)) : 0,
      physBase: n >= H.physBase + 8 ? hex(dv.getBigUint64(H.physBase, true)) : "0x0",
      fdtPa: n >= H.fdtPa + 8 ? hex(dv.getBigUint64(H.fdtPa, true)) : "0x0",
      memMapPa: n >= H.memMapPa + 8 ? hex(dv.getBigUint64(H.memMapPa, true)) : "0x0",
      handovers: n >= H.handovers + 8 ? Number(dv.getBigUint64(H.handovers, true)) : 0,
    };
  } finally {
    f.close();
  }
}

/**
 * Inspects the arena at `path` read-only. Throws only when the file cannot
 * be opened as an arena at all (missing, not an arena, unsupported
 * version); damaged handed-over data is reported in `error`.
 *
 * @example
 * ```ts ignore
 * const report = inspectArena("/dev/shm/service.arena");
 * console.log(report.sessions?.map((s) => s.name));
 * ```
 */
export function inspectArena(path: string, options: { library?: string } = {}): InspectReport {
  let arena: Arena;
  let error: InspectReport["error"];
  try {
    arena = Arena.open(path, { readOnly: true, library: options.library });
  } catch (e) {
    if (!(e instanceof LiveUpdateError) || e.code !== "EBADMSG") throw e;
    error = { code: e.code, message: e.message };
    arena = Arena.open(path, { readOnly: true, discard: true, library: options.library });
  }
  try {
    const header = readHeader(path);
    const info = arena.info();
    const report: InspectReport = {
      path,
      header,
      pages: {
        total: info.pages,
        handedOver: info.handedOverPages,
        handedOverBlocks: info.handedOverBlocks,
        free: info.freePages,
      },
      handedOver: BigInt(header.fdtPa) !== 0n,
      regions: [],
      unclaimed: [],
      error,
    };
    const refs = new Map<bigint, string>();
    try {
      collect(arena, BigInt(header.memMapPa), report, refs);
    } catch (e) {
      if (!(e instanceof LiveUpdateError)) throw e;
      report.error ??= { code: e.code, message: e.message };
    }
    for (const r of arena.regions("handed-over")) {
      const what = refs.get(r.pa);
      const region = { pa: hex(r.pa), pages: r.pages, what };
      report.regions.push(region);
      if (!what) report.unclaimed.push({ pa: region.pa, pages: r.pages });
    }
    return report;
  } finally {
    arena.close();
  }
}

function collect(
  arena: Arena,
  memMapPa: bigint,
  report: InspectReport,
  refs: Map<bigint, string>,
): void {
  if (!report.handedOver || report.error) return;
  const map = BlockChain.walk(
    arena,
    MEM_MAP_CHAIN,
    memMapPa,
    arena.size / PAGE_SIZE,
    "preserved-memory map",
  );
  report.memMapBlocks = map.map((b) => b.count);
  for (const b of map) refs.set(b.pa, "preserved-memory map block");
  const root = arena.info().incomingRoot;
  const image = readImage(arena, root, {
    claim: false,
    maxBlocks: arena.size / PAGE_SIZE,
    known: () => true,
  });
  refs.set(image.khoRoot, "KHO root FDT");
  refs.set(image.luoFdt, "LUO FDT");
  report.khoFdt = toDts(image.kho);
  report.luoFdt = toDts(image.luo);
  report.liveupdateNumber = String(image.liveupdateNumber);
  report.format = image.format;
  report.sessionBlocks = image.sessionBlocks.map((b) => b.count);
  for (const b of image.sessionBlocks) refs.set(b.pa, "session block");
  report.sessions = image.sessions.map((s) => {
    for (const b of s.fileBlocks) refs.set(b.pa, `file block of session "${s.name}"`);
    return {
      name: s.name,
      fileBlocks: s.fileBlocks.map((b) => b.count),
      files: s.entries.records().map((f) => {
        const file: FileReport = {
          token: String(f.token),
          compatible: f.compatible,
          data: hex(f.data),
        };
        if (f.compatible !== COMPAT.memfd) return file;
        try {
          const d = describeMemfd({ arena }, f.data);
          refs.set(f.data, `memfd descriptor (session "${s.name}" token ${f.token})`);
          walkExtentBlocks(arena, f.data, refs, s.name, f.token);
          for (const e of d.extents) {
            refs.set(e.pa, `memfd data (session "${s.name}" token ${f.token})`);
          }
          Object.assign(file, { size: d.size, position: d.pos, extents: d.extents.length });
        } catch (e) {
          if (!(e instanceof LiveUpdateError)) throw e;
          file.error = e.message;
        }
        return file;
      }),
    };
  });
}

function walkExtentBlocks(
  arena: Arena,
  desc: bigint,
  refs: Map<bigint, string>,
  session: string,
  token: bigint,
) {
  const off = arena.offsetOf(desc, MEMFD_SER.size);
  const first = arena.dataView.getBigUint64(off + MEMFD_SER.extentsPa, true);
  for (let pa = first, n = 0; pa !== 0n && n < arena.size / PAGE_SIZE; n++) {
    refs.set(pa, `memfd extent block (session "${session}" token ${token})`);
    if (!arena.contains(pa, PAGE_SIZE) || (pa - PHYS_BASE) % BigInt(PAGE_SIZE)) return;
    pa = arena.dataView.getBigUint64(arena.offsetOf(pa, PAGE_SIZE) + BLOCK_HEADER.next, true);
  }
}
