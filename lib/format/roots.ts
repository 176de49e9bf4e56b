/**
 * The two device trees at the root of a handed-over image, written and
 * read here only:
 *
 * - the KHO root FDT (at the arena header's `fdt_pa`): compatible
 *   `"kho-v1"`, one node per subsystem with a u64 `fdt` property pointing
 *   at that subsystem's own FDT;
 * - the LUO FDT (node `LUO`): compatible `"luo-v1"`, `liveupdate-number`,
 *   a node `luo-session` whose compatible names the session format and
 *   whose `luo-session-header` points at the first session block, and, only
 *   when file-lifecycle-bound objects were handed over, a node `luo-flb`
 *   (compatible `"luo-flb-v1"`) whose `luo-flb-header` points at the first
 *   FLB block.
 *
 * @module
 */

import { CorruptImageError } from "../errors.ts";
import { type Arena, PAGE_SIZE } from "../kho/arena.ts";
import {
  child,
  FDT_HEADER_SIZE,
  type FdtNode,
  fdtTotalSize,
  getString,
  getU64,
  node,
  readFdt,
  strProp,
  u64Prop,
  writeFdt,
} from "./fdt.ts";

/** Compatible strings of the root device trees and session formats. */
export const ROOT_COMPAT = {
  kho: "kho-v1",
  luo: "luo-v1",
  sessionV4: "luo-session-v4",
  sessionV3: "luo-session-v3",
  flb: "luo-flb-v1",
} as const;

/** Session formats this build reads, newest first. */
export const SESSION_FORMATS: readonly string[] = [ROOT_COMPAT.sessionV4, ROOT_COMPAT.sessionV3];

/** Node and property names of the KHO and LUO device trees. */
export const FDT_NAMES = {
  compatible: "compatible",
  luoNode: "LUO",
  fdtProp: "fdt",
  liveupdateNumber: "liveupdate-number",
  sessionNode: "luo-session",
  sessionHeader: "luo-session-header",
  flbNode: "luo-flb",
  flbHeader: "luo-flb-header",
} as const;

/** What the LUO FDT says. */
export interface LuoRoot {
  /** The image's `liveupdate-number`. */
  liveupdateNumber: bigint;
  /** Physical address of the first session block (0 when there are no sessions). */
  sessionHeader: bigint;
  /** Session format (default `luo-session-v4`). */
  format?: string;
  /** Physical address of the first FLB block (0 or absent: no `luo-flb` node). */
  flbHeader?: bigint;
}

/** Builds the LUO FDT. */
export function luoFdt(root: LuoRoot): Uint8Array {
  const children = [
    node(FDT_NAMES.sessionNode, {
      compatible: strProp(root.format ?? ROOT_COMPAT.sessionV4),
      [FDT_NAMES.sessionHeader]: u64Prop(root.sessionHeader),
    }),
  ];
  if (root.flbHeader) {
    children.push(node(FDT_NAMES.flbNode, {
      compatible: strProp(ROOT_COMPAT.flb),
      [FDT_NAMES.flbHeader]: u64Prop(root.flbHeader),
    }));
  }
  return writeFdt(
    node("", {
      compatible: strProp(ROOT_COMPAT.luo),
      [FDT_NAMES.liveupdateNumber]: u64Prop(root.liveupdateNumber),
    }, children),
  );
}

/** Builds the KHO root FDT pointing at the LUO FDT. */
export function khoFdt(luoPa: bigint): Uint8Array {
  return writeFdt(
    node("", { compatible: strProp(ROOT_COMPAT.kho) }, [
      node(FDT_NAMES.luoNode, { [FDT_NAMES.fdtProp]: u64Prop(luoPa) }),
    ]),
  );
}

/**
 * Places the LUO and KHO device trees in preserved pages (their addresses
 * are pushed to `pages` so that a failed handover can free them) and
 * returns the KHO root's physical address.
 */
export function placeRoots(arena: Arena, root: LuoRoot, pages: bigint[]): bigint {
  const place = (blob: Uint8Array) => {
    const pa = arena.allocPreserve(blob.length, { zero: true });
    pages.push(pa);
    arena.bytes(pa, blob.length).set(blob);
    return pa;
  };
  return place(khoFdt(place(luoFdt(root))));
}

/** What the root device trees say. */
export interface Roots {
  /** Physical address of the KHO root FDT. */
  khoRoot: bigint;
  /** Physical address of the LUO FDT. */
  luoFdt: bigint;
  /** The image's `liveupdate-number`. */
  liveupdateNumber: bigint;
  /** Session format found (one of {@link SESSION_FORMATS}). */
  format: string;
  /** Physical address of the first session block (0 when there are no sessions). */
  sessionHeader: bigint;
  /** Physical address of the first FLB block (0 when none were handed over). */
  flbHeader: bigint;
  /** The decoded KHO root FDT. */
  kho: FdtNode;
  /** The decoded LUO FDT. */
  luo: FdtNode;
}

/** Reads (and with `claim`, claims then frees) the FDT at `pa`. */
function loadFdt(arena: Arena, pa: bigint, what: string, claim: boolean): FdtNode {
  if (!arena.contains(pa, FDT_HEADER_SIZE)) {
    throw new CorruptImageError(`${what} is outside the arena`, pa);
  }
  const total = fdtTotalSize(arena.bytes(pa, FDT_HEADER_SIZE), pa);
  if (!arena.contains(pa, total)) {
    throw new CorruptImageError(`${what}: totalsize ${total} runs past the arena`, pa);
  }
  if (claim) arena.claim(pa, Math.max(total, PAGE_SIZE), what);
  try {
    return readFdt(arena.bytes(pa, total).slice(), pa);
  } finally {
    if (claim) arena.free(pa);
  }
}

function compatOf(n: FdtNode, what: string, where: bigint, want: readonly string[]): string {
  const c = getString(n, FDT_NAMES.compatible);
  if (c === null) throw new CorruptImageError(`${what}: no compatible property`, where);
  if (!want.includes(c)) {
    throw new CorruptImageError(
      `${what}: compatible "${c}" is not supported; this build reads ${want.join(", ")}`,
      where,
      "EPROTO",
    );
  }
  return c;
}

function u64Of(n: FdtNode, name: string, what: string, where: bigint): bigint {
  const v = getU64(n, name);
  if (v === null) throw new CorruptImageError(`${what} has no u64 "${name}"`, where);
  return v;
}

function childOf(n: FdtNode, name: string, what: string, where: bigint): FdtNode {
  const c = child(n, name);
  if (!c) throw new CorruptImageError(`${what} has no "${name}" node`, where);
  return c;
}

/**
 * Reads and validates the root device trees published at `root`; with
 * `claim`, their pages are claimed and freed (they are read once).
 */
export function readRoots(arena: Arena, root: bigint, claim: boolean): Roots {
  const kho = loadFdt(arena, root, "KHO root FDT", claim);
  compatOf(kho, "KHO root FDT", root, [ROOT_COMPAT.kho]);
  const luoNode = childOf(kho, FDT_NAMES.luoNode, "KHO root FDT", root);
  const luoPa = u64Of(luoNode, FDT_NAMES.fdtProp, `KHO node "${FDT_NAMES.luoNode}"`, root);
  const luo = loadFdt(arena, luoPa, "LUO FDT", claim);
  compatOf(luo, "LUO FDT", luoPa, [ROOT_COMPAT.luo]);
  const liveupdateNumber = u64Of(luo, FDT_NAMES.liveupdateNumber, "LUO FDT", luoPa);
  const sessNode = childOf(luo, FDT_NAMES.sessionNode, "LUO FDT", luoPa);
  const format = compatOf(sessNode, `LUO node "${FDT_NAMES.sessionNode}"`, luoPa, SESSION_FORMATS);
  const sessionHeader = u64Of(sessNode, FDT_NAMES.sessionHeader, "LUO session node", luoPa);
  const flbHeader = readFlbNode(luo, luoPa);
  return {
    khoRoot: root,
    luoFdt: luoPa,
    liveupdateNumber,
    format,
    sessionHeader,
    flbHeader,
    kho,
    luo,
  };
}

/** The `luo-flb-header` of the optional `luo-flb` node (0 when there is no node). */
function readFlbNode(luo: FdtNode, luoPa: bigint): bigint {
  const flb = child(luo, FDT_NAMES.flbNode);
  if (!flb) return 0n;
  compatOf(flb, `LUO node "${FDT_NAMES.flbNode}"`, luoPa, [ROOT_COMPAT.flb]);
  return u64Of(flb, FDT_NAMES.flbHeader, "LUO flb node", luoPa);
}
