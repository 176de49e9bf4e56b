/**
 * Looks inside an arena without changing it: the header, the decoded KHO
 * and LUO device trees, sessions and files (each described by its
 * handler), every block chain, the preserved regions and the regions
 * nobody references. On damaged data it reports what it could read and the
 * typed error for the rest.
 *
 * @module
 */

import { BlockChain, DEFAULT_MAX_BLOCKS } from "../format/block.ts";
import { LiveUpdateError, LuoError } from "../errors.ts";
import { ARENA_HEADER, MEM_MAP_CHAIN, readArenaHeader } from "../format/arena_header.ts";
import { toDts } from "../format/fdt.ts";
import { INSPECTED_FLBS, INSPECTED_HANDLERS } from "../handlers/builtin.ts";
import { Arena, PAGE_SIZE } from "../kho/arena.ts";
import { checkPath, optionsOf } from "../kho/options.ts";
import type { AnyFileHandler, HandlerContext } from "../luo/handler.ts";
import { readImage, type SessionRecord } from "../luo/image.ts";

/**
 * Arena header fields (addresses as hex strings).
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { type HeaderReport, inspectArena } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const header: HeaderReport = inspectArena(luo.arena.path).header;
 * console.log(header.magic, header.handovers, header.fdtPa !== "0x0"); // "KHOARENA" 1 true
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface HeaderReport {
  /** The magic, printable characters only ("KHOARENA"). */
  magic: string;
  /** Arena format version. */
  version: number;
  /** Page size in bytes. */
  pageSize: number;
  /** Arena size in bytes. */
  size: number;
  /** Physical address of file offset 0. */
  physBase: string;
  /** Physical address of the KHO root FDT ("0x0": nothing handed over). */
  fdtPa: string;
  /** Physical address of the first preserved-memory map block. */
  memMapPa: string;
  /** Handovers this arena has seen, in decimal (exact: the header's u64). */
  handovers: string;
}

/**
 * One file of a session.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { type FileReport, inspectArena } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const file: FileReport = inspectArena(luo.arena.path).sessions![0].files[0];
 * console.log(file.token, file.compatible, file.fields?.size); // "1" "memfd-v2" 100
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface FileReport {
  /** Its token, in decimal. */
  token: string;
  /** Its compatible string. */
  compatible: string;
  /** Its `luo_file_ser.data`, in hex. */
  data: string;
  /** What the file's handler says about it (size, position, ...). */
  fields?: Record<string, string | number>;
  /** Why the handler could not describe it. */
  error?: string;
}

/**
 * One session.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { inspectArena, type SessionReport } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const sessions: SessionReport[] = inspectArena(luo.arena.path).sessions ?? [];
 * console.log(sessions.map((s) => `${s.name}: ${s.files.length} file(s)`)); // ["cache: 1 file(s)"]
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface SessionReport {
  /** Its name. */
  name: string;
  /** Its files, in order. */
  files: FileReport[];
  /** Entries per file block. */
  fileBlocks: number[];
}

/**
 * A region of pages.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { inspectArena, type RegionReport } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const regions: RegionReport[] = inspectArena(luo.arena.path).regions;
 * console.log(regions.every((r) => r.what !== undefined)); // true: each handed-over region is accounted for
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface RegionReport {
  /** Physical address, in hex. */
  pa: string;
  /** Size in pages. */
  pages: number;
  /** What references it (absent for unclaimed regions). */
  what?: string;
}

/**
 * Everything {@link inspectArena} found.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { inspectArena, type InspectReport } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const report: InspectReport = inspectArena(luo.arena.path);
 * console.log(report.handedOver, report.format, report.liveupdateNumber, report.error); // true "luo-session-v4" "1" undefined
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface InspectReport {
  /** The arena file. */
  path: string;
  /** Its header. */
  header: HeaderReport;
  /** Page accounting as a successor would see it. */
  pages: {
    /** All pages, the header page included. */
    total: number;
    /** Pages handed over. */
    handedOver: number;
    /** Blocks handed over. */
    handedOverBlocks: number;
    /** Free pages. */
    free: number;
  };
  /** Whether an image is published. */
  handedOver: boolean;
  /** The KHO root FDT as device tree source. */
  khoFdt?: string;
  /** The LUO FDT as device tree source. */
  luoFdt?: string;
  /** The image's `liveupdate-number`, in decimal. */
  liveupdateNumber?: string;
  /** The session format (`luo-session-v4` or `luo-session-v3`). */
  format?: string;
  /** Entries per session block. */
  sessionBlocks?: number[];
  /** The sessions, in order. */
  sessions?: SessionReport[];
  /** The file-lifecycle-bound objects handed over. */
  flbs?: {
    /** Compatible string. */
    compatible: string;
    /** Its `data`, in hex. */
    data: string;
    /** Files that use it. */
    count: number;
  }[];
  /** Blocks of the native preserved-memory map, entries per block. */
  memMapBlocks?: number[];
  /** Every handed-over region, with what references it. */
  regions: RegionReport[];
  /** Handed-over regions nothing references. */
  unclaimed: RegionReport[];
  /** Compatibles (and FLBs, as `flb NAME`) no handler of this build knows. */
  unknown?: string[];
  /** The typed error met while reading, or the first problem a successor would refuse. */
  error?: {
    /** Its code. */
    code: string;
    /** Its message. */
    message: string;
  };
}

/**
 * Options of {@link inspectArena}.
 *
 * @example
 * ```ts
 * import { LiveUpdate, Value } from "@luo/live-update";
 * import { inspectArena, type InspectOptions } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.registerFlb("value-v1", {
 *   compatible: "my-index-v1",
 *   preserve: () => ({ obj: null, data: 0n }),
 *   unpreserve() {},
 *   retrieve: () => null,
 *   finish() {},
 * });
 * luo.createSession("svc").preserve(new Value(1), 1n);
 * luo.handover();
 * console.log(inspectArena(luo.arena.path).unknown); // ["flb my-index-v1"]
 * const options: InspectOptions = { flbs: ["my-index-v1"] }; // the successor registers it
 * console.log(inspectArena(luo.arena.path, options).unknown); // undefined
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export interface InspectOptions {
  /** Path of the native library. */
  library?: string;
  /** Handlers (besides the built-in ones) that describe their files. */
  handlers?: AnyFileHandler[];
  /** Compatibles of FLBs (besides the built-in ones) a successor registers. */
  flbs?: string[];
}

const hex = (v: bigint) => "0x" + v.toString(16);

/** The header page as mapped (page 0 of the arena): no second open of the file. */
function headerReport(arena: Arena): HeaderReport {
  const h = readArenaHeader(arena.memory.subarray(0, ARENA_HEADER.length));
  return {
    ...h,
    physBase: hex(h.physBase),
    fdtPa: hex(h.fdtPa),
    memMapPa: hex(h.memMapPa),
    handovers: String(h.handovers),
  };
}

/** Opens read-only; a damaged preserved-memory map is reported and the rest read with `discard`. */
function openForInspection(path: string, library?: string) {
  try {
    return { arena: Arena.open(path, { readOnly: true, library }), error: undefined };
  } catch (e) {
    if (!(e instanceof LiveUpdateError) || e.code !== "EBADMSG") throw e;
    const arena = Arena.open(path, { readOnly: true, discard: true, library });
    return { arena, error: { code: e.code, message: e.message } };
  }
}

/**
 * Inspects the arena at `path` read-only. Throws only when the file cannot
 * be opened as an arena at all (missing, not an arena, unsupported
 * version); damaged handed-over data is reported in `error`.
 *
 * @example
 * ```ts
 * import { LiveUpdate, MemFile } from "@luo/live-update";
 * import { inspectArena } from "@luo/live-update/tools";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("cache").preserve(MemFile.from(luo.arena, new Uint8Array(100)), 1n);
 * luo.handover();
 * const report = inspectArena(luo.arena.path); // read-only: the image stays for a successor
 * console.log(report.sessions?.map((s) => s.name)); // ["cache"]
 * Deno.removeSync(luo.arena.path);
 * ```
 */
export function inspectArena(path: string, options?: InspectOptions): InspectReport {
  checkPath("inspect: the arena path", path);
  options = optionsOf(`inspect ${path}`, options);
  const { arena, error } = openForInspection(path, options.library);
  try {
    const header = headerReport(arena);
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
      if (report.handedOver && !report.error) collect(arena, options, report, refs);
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
  options: InspectOptions,
  report: InspectReport,
  refs: Map<bigint, string>,
): void {
  const pages = arena.size / PAGE_SIZE;
  const map = BlockChain.incoming(arena, MEM_MAP_CHAIN, BigInt(report.header.memMapPa), {
    maxBlocks: pages,
    claim: false,
    what: "preserved-memory map",
  });
  report.memMapBlocks = map.blocks.map((b) => b.count);
  for (const b of map.blocks) refs.set(b.pa, "preserved-memory map block");
  const image = readImage(arena, arena.incomingRoot, {
    claim: false,
    maxBlocks: Math.max(pages, DEFAULT_MAX_BLOCKS),
    known: "any",
  });
  refs.set(image.khoRoot, "KHO root FDT");
  refs.set(image.luoFdt, "LUO FDT");
  report.khoFdt = toDts(image.kho);
  report.luoFdt = toDts(image.luo);
  report.liveupdateNumber = String(image.liveupdateNumber);
  report.format = image.format;
  report.sessionBlocks = image.sessionBlocks.map((b) => b.count);
  for (const b of image.sessionBlocks) refs.set(b.pa, "session block");
  const handlers = new Map(
    [...INSPECTED_HANDLERS, ...(options.handlers ?? [])].map((h) => [h.compatible, h]),
  );
  const ctx = inspectionContext(arena, Math.max(pages, DEFAULT_MAX_BLOCKS));
  report.flbs = image.flbs.map((f) => ({ ...f, data: hex(f.data) }));
  for (const b of image.flbBlocks) refs.set(b.pa, "flb block");
  report.sessions = image.sessions.map((s) => sessionReport(ctx, s, handlers, refs));
  const flbs = new Set([...INSPECTED_FLBS, ...(options.flbs ?? [])]);
  noteProblems(report, handlers, image.flbs.map((f) => f.compatible).filter((c) => !flbs.has(c)));
}

/**
 * What a successor of this build would refuse although the image itself
 * reads: a file its handler cannot describe (damaged data), a compatible
 * or an FLB no handler of this build (or of `options.handlers`) knows.
 * The first becomes the report's error.
 */
function noteProblems(
  report: InspectReport,
  handlers: Map<string, AnyFileHandler>,
  unknownFlbs: string[],
): void {
  const unknown = new Set<string>();
  for (const s of report.sessions ?? []) {
    for (const f of s.files) {
      if (!handlers.has(f.compatible)) unknown.add(f.compatible);
      if (f.error && !report.error) {
        report.error = {
          code: "EBADMSG",
          message: `session "${s.name}" token ${f.token}: ${f.error}`,
        };
      }
    }
  }
  for (const c of unknownFlbs) unknown.add(`flb ${c}`);
  if (unknown.size === 0) return;
  report.unknown = [...unknown];
  report.error ??= {
    code: "EPROTO",
    message: `no handler of this build reads ${[...unknown].map((c) => `"${c}"`).join(", ")} ` +
      `(a successor must register one for each)`,
  };
}

/** A handler context for `describe` only: the lookups of a live update are not available. */
function inspectionContext(arena: Arena, maxBlocks: number): HandlerContext {
  const none = (): never => {
    throw new LuoError("EINVAL", "not available during inspection");
  };
  return {
    arena,
    maxBlocks,
    tokenOutgoing: none,
    fileIncoming: none,
    flbOutgoing: none,
    flbIncoming: none,
  };
}

function sessionReport(
  ctx: HandlerContext,
  s: SessionRecord,
  handlers: Map<string, AnyFileHandler>,
  refs: Map<bigint, string>,
): SessionReport {
  const name = s.entry.name;
  for (const b of s.fileBlocks) refs.set(b.pa, `file block of session "${name}"`);
  const files = s.entries.records().map((f) => {
    const file: FileReport = {
      token: String(f.token),
      compatible: f.compatible,
      data: hex(f.data),
    };
    const h = handlers.get(f.compatible);
    if (!h?.describe) return file;
    try {
      const d = h.describe(ctx, f.data);
      file.fields = d.fields;
      for (const r of d.regions) refs.set(r.pa, `${r.what} (session "${name}" token ${f.token})`);
    } catch (e) {
      if (!(e instanceof LiveUpdateError)) throw e;
      file.error = e.message;
    }
    return file;
  });
  return { name, fileBlocks: s.fileBlocks.map((b) => b.count), files };
}
