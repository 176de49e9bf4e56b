/**
 * The `"kvmap-v1"` handler: preserves {@link PreservedMap}s of the same
 * arena. `luo_file_ser.data` is the physical address of the map's header
 * page; the map keeps changing until the handover, so its blocks are
 * marked preserved at freeze (and unmarked at unfreeze).
 *
 * @module
 */

import { LuoError } from "../../errors.ts";
import { KVMAP_V1 } from "../../format/kvmap_ser.ts";
import { type Arena, PAGE_SIZE, type Region } from "../../kho/arena.ts";
import type { FileDescription, FileHandler } from "../../luo/handler.ts";
import { readMapImage } from "./adopt.ts";
import { mapInternals, PreservedMap } from "./map.ts";

/** What the handler keeps per preserved map: the blocks marked preserved at freeze. */
interface Preserved {
  frozen: Region[];
}

function preservedOf(file: { private: unknown }): Preserved {
  const st = file.private as Preserved | undefined;
  if (!st) throw new LuoError("EINVAL", "map is not preserved by this handler");
  return st;
}

function unmark(arena: Arena, regions: Region[]): void {
  for (const r of regions) arena.unpreserve(r.pa, r.pages * PAGE_SIZE);
}

/**
 * The `"kvmap-v1"` handler: preserves {@link PreservedMap}s of the same
 * arena (registered in every live update).
 *
 * @example
 * ```ts
 * import { kvmapHandler, LiveUpdate, PreservedMap } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const map = PreservedMap.create(luo.arena);
 * luo.createSession("svc").preserve(map, 1n);
 * console.log(luo.handlers.get("kvmap-v1") === kvmapHandler, map.preserved); // true true
 * ```
 */
export const kvmapHandler: FileHandler<PreservedMap<unknown>> = {
  compatible: KVMAP_V1,
  canPreserve(ctx, obj) {
    return obj instanceof PreservedMap && obj.arena === ctx.arena;
  },
  preserve(_ctx, file) {
    const m = file.obj[mapInternals];
    m.setPreserved(true);
    file.private = { frozen: [] } satisfies Preserved;
    return m.headerPa;
  },
  unpreserve(ctx, file) {
    const st = preservedOf(file);
    unmark(ctx.arena, st.frozen);
    file.private = undefined;
    file.obj[mapInternals].setPreserved(false);
  },
  freeze({ arena }, file) {
    const st = preservedOf(file);
    const m = file.obj[mapInternals];
    m.settle(); // a successor then has no pending store to redo
    const regions = m.regions();
    const done: Region[] = [];
    try {
      for (const r of regions) {
        arena.preserve(r.pa, r.pages * PAGE_SIZE);
        done.push(r);
      }
    } catch (e) {
      unmark(arena, done);
      throw e;
    }
    st.frozen = done;
  },
  unfreeze({ arena }, file) {
    const st = preservedOf(file);
    unmark(arena, st.frozen);
    st.frozen = [];
  },
  retrieve(ctx, file) {
    return PreservedMap.adopt(ctx.arena, file.data);
  },
  finish(ctx, file) {
    // Retrieved: the user owns the map now. Failed: the retrieve released
    // what it had claimed; the rest goes with the unclaimed regions.
    if (file.status === "none") PreservedMap.adopt(ctx.arena, file.data).close();
  },
  describe(ctx, data): FileDescription {
    const { header, regions } = readMapImage(ctx.arena, data, false);
    const st = header.state;
    return {
      fields: {
        keys: st.count,
        "value kind": header.flags ? "cloned" : "bytes",
        slots: 2 ** st.indexLog2,
        segments: regions.length - 2,
        "live bytes": st.live,
        "dead bytes": st.dead,
      },
      regions,
    };
  },
};
