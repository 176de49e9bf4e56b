/**
 * Handed-over images in the previous format (`luo-session-v3`) with
 * `memfd-v1` files, written with the format's own writer: what `convert`
 * and the v3 reader get from an old predecessor. Shared by the v3 tests and
 * the convert benchmark.
 *
 * @module
 */

import { Arena, PAGE_SIZE } from "../kho.ts";
import { BlockChain } from "../lib/format/block.ts";
import {
  EXTENT_CHAIN,
  MEMFD_DESCRIPTOR_BYTES,
  writeExtents,
  writeMemfdDescriptor,
} from "../lib/format/memfd_ser.ts";
import { placeRoots } from "../lib/format/roots.ts";
import { V3, writeV3Sessions } from "../lib/format/v3.ts";

/** One memory file of a v3 image. */
export interface V3MemFile {
  token: bigint;
  bytes: Uint8Array;
}

/** One session of a v3 image (at most {@link V3.maxFiles} files). */
export interface V3Session {
  name: string;
  files: V3MemFile[];
}

/** How {@link writeV3Image} writes the image. */
export interface V3ImageOptions {
  /** Arena size in bytes (default: {@link v3ArenaSize} of the sessions). */
  size?: number;
  /** The session format named in the LUO FDT (default `"luo-session-v3"`). */
  format?: string;
  /** The image's `liveupdate-number` (default 5). */
  liveupdateNumber?: bigint;
}

/** A memfd-v1 descriptor of `body` in preserved pages (descriptor, extent block, data). */
export function memfdV1Of(a: Arena, body: Uint8Array): { desc: bigint; data: bigint } {
  const desc = a.allocPreserve(MEMFD_DESCRIPTOR_BYTES, { zero: true });
  if (!body.length) {
    writeMemfdDescriptor(a, desc, { size: 0, pos: 0, extentsPa: 0n, nextents: 0 });
    return { desc, data: 0n };
  }
  const data = a.allocRegion(body.length);
  a.preserve(data.pa, data.pages * PAGE_SIZE);
  a.bytes(data.pa, body.length).set(body);
  const chain = BlockChain.outgoing(a, EXTENT_CHAIN, 4);
  chain.reserve(1);
  writeExtents(chain, [data]);
  writeMemfdDescriptor(a, desc, { size: body.length, pos: 0, extentsPa: chain.head, nextents: 1 });
  return { desc, data: data.pa };
}

/**
 * Bytes of an arena that holds `sessions` as a v3 image of small memfd-v1
 * files (three pages each) and, after `convert`, their memfd-v2 rewrite,
 * with 16 MiB of slack.
 */
export function v3ArenaSize(sessions: readonly V3Session[]): number {
  const files = sessions.reduce((n, s) => n + s.files.length, 0);
  const dataPages = sessions.reduce(
    (n, s) => n + s.files.reduce((m, f) => m + Math.ceil(f.bytes.length / PAGE_SIZE), 0),
    0,
  );
  const pages = 2 * files + dataPages + 2 * sessions.length + files / 16 + 4096;
  return Math.ceil(pages) * PAGE_SIZE + V3.sessionBlockSize;
}

/**
 * Writes a handed-over v3 image of `sessions` into a new arena at `path`.
 * Returns the physical address of every file's data page, by
 * `"<session>/<token>"` (empty files have none).
 */
export function writeV3Image(
  path: string,
  sessions: readonly V3Session[],
  options: V3ImageOptions = {},
): Map<string, bigint> {
  const dataPages = new Map<string, bigint>();
  using a = Arena.create({ path, size: options.size ?? v3ArenaSize(sessions) });
  const header = writeV3Sessions(
    a,
    sessions.map((s) => ({
      name: s.name,
      files: s.files.map((f) => {
        const { desc, data } = memfdV1Of(a, f.bytes);
        if (data) dataPages.set(`${s.name}/${f.token}`, data);
        return { compatible: "memfd-v1", data: desc, token: f.token };
      }),
    })),
  );
  const format = options.format ?? "luo-session-v3";
  const liveupdateNumber = options.liveupdateNumber ?? 5n;
  a.handover(placeRoots(a, { liveupdateNumber, sessionHeader: header, format }, []));
  return dataPages;
}
