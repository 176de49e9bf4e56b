/**
 * The built-in value handler, compatible `"value-v1"`: plain JavaScript
 * state (a `Map`, an object, typed arrays, ...) preserved through the
 * structured clone serializer of `node:v8`, so that a service whose state
 * is not bytes preserves it in one call. The value is serialized at
 * handover (freeze), so later changes are included. The serialized form is
 * in `format/value_ser.ts`.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { CorruptImageError, LuoError } from "../errors.ts";
import {
  clearValueDescriptor,
  readValueDescriptor,
  VALUE_SER,
  VALUE_V1,
  writeValueDescriptor,
} from "../format/value_ser.ts";
import { PAGE_SIZE } from "../kho/arena.ts";
import type { FileDescription, FileHandler, HandlerContext } from "../luo/handler.ts";

/**
 * A box around any structured-cloneable value, to preserve it in a session.
 *
 * @example
 * ```ts
 * import { LiveUpdate, Value } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const state = new Value(new Map([["hits", 41]]));
 * luo.createSession("svc").preserve(state, 1n);
 * state.value.set("hits", 42); // serialized at handover: this change goes too
 * ```
 */
export class Value<T = unknown> {
  /**
   * The value; replace or mutate it freely until the handover.
   *
   * @example
   * ```ts
   * import { LiveUpdate, Value } from "@luo/live-update";
   * const old = LiveUpdate.create({ size: 1 << 20 });
   * const config = new Value({ workers: 2 });
   * old.createSession("svc").preserve(config, 1n);
   * config.value = { workers: 4 }; // replaced after preserve: the new value is handed over
   * old.handover();
   * const luo = LiveUpdate.open(old.arena.path);
   * const s = luo.retrieveSession("svc");
   * console.log(s.retrieve(1n, Value).value); // { workers: 4 }
   * s.finish();
   * luo.close();
   * Deno.removeSync(luo.arena.path);
   * ```
   */
  value: T;
  /**
   * Boxes `value`.
   *
   * @example
   * ```ts
   * import { Value } from "@luo/live-update";
   * const sessions = new Value(new Map<string, number>());
   * sessions.value.set("alice", Date.now());
   * console.log(sessions.value.size); // 1
   * ```
   */
  constructor(value: T) {
    this.value = value;
  }
}

/** What the handler keeps per preserved value: its descriptor page and, once frozen, its data. */
interface Preserved {
  desc: bigint;
  data: bigint;
}

function preservedOf(file: { private: unknown }): Preserved {
  const st = file.private as Preserved | undefined;
  if (!st) throw new LuoError("EINVAL", "value is not preserved by this handler");
  return st;
}

/** Claims, decodes and frees a handed-over value (its bytes are copied into the JS heap). */
function take(ctx: HandlerContext, desc: bigint): unknown {
  const { arena } = ctx;
  arena.claim(desc, VALUE_SER.size, "value descriptor");
  try {
    const d = readValueDescriptor(arena, desc);
    arena.claim(d.dataPa, d.length, "value data");
    try {
      return deserialize(arena.bytes(d.dataPa, d.length));
    } catch (e) {
      if (e instanceof LuoError) throw e;
      throw new CorruptImageError(
        `value: the v8 data cannot be decoded (${(e as Error).message})`,
        d.dataPa,
      );
    } finally {
      arena.free(d.dataPa);
    }
  } finally {
    arena.free(desc);
  }
}

/**
 * The `"value-v1"` handler: preserves {@link Value} boxes (registered in every live update).
 *
 * @example
 * ```ts
 * import { LiveUpdate, Value, valueHandler } from "@luo/live-update";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("svc").preserve(new Value({ hits: 1 }), 1n);
 * console.log(luo.handlers.get("value-v1") === valueHandler); // true
 * ```
 */
export const valueHandler: FileHandler<Value> = {
  compatible: VALUE_V1,
  canPreserve(_ctx, obj) {
    return obj instanceof Value;
  },
  preserve({ arena }, file) {
    const desc = arena.allocPreserve(PAGE_SIZE, { zero: true });
    file.private = { desc, data: 0n } satisfies Preserved;
    return desc;
  },
  unpreserve(ctx, file) {
    const st = preservedOf(file);
    valueHandler.unfreeze!(ctx, file);
    ctx.arena.unpreserveFree(st.desc);
    file.private = undefined;
  },
  freeze({ arena }, file) {
    const st = preservedOf(file);
    let bytes: Uint8Array;
    try {
      bytes = serialize(file.obj.value);
    } catch (e) {
      throw new LuoError("EINVAL", `the value cannot be cloned: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (bytes.length > arena.size) {
      throw new LuoError(
        "ENOMEM",
        `the value takes ${bytes.length} bytes serialized, more than the arena's ${arena.size}`,
      );
    }
    const data = arena.allocRegion(bytes.length);
    // The tail of the last page is zeroed: no stale bytes go to the successor.
    const view = arena.bytes(data.pa, data.pages * PAGE_SIZE);
    view.set(bytes);
    view.fill(0, bytes.length);
    try {
      arena.preserve(data.pa, data.pages * PAGE_SIZE);
    } catch (e) {
      arena.free(data.pa);
      throw e;
    }
    st.data = data.pa;
    writeValueDescriptor(arena, st.desc, {
      length: bytes.length,
      dataPa: data.pa,
      pages: data.pages,
    });
  },
  unfreeze({ arena }, file) {
    const st = preservedOf(file);
    if (st.data !== 0n) arena.unpreserveFree(st.data);
    st.data = 0n;
    clearValueDescriptor(arena, st.desc);
  },
  retrieve(ctx, file) {
    return new Value(take(ctx, file.data));
  },
  finish(ctx, file) {
    if (file.status === "none") take(ctx, file.data);
  },
  describe({ arena }, data): FileDescription {
    const d = readValueDescriptor(arena, data);
    if (!arena.contains(d.dataPa, d.pages * PAGE_SIZE)) {
      throw new CorruptImageError(`value data of ${d.pages} pages is outside the arena`, d.dataPa);
    }
    try {
      deserialize(arena.bytes(d.dataPa, d.length)); // the successor's check, read-only
    } catch (e) {
      throw new CorruptImageError(
        `value: the v8 data cannot be decoded (${(e as Error).message})`,
        d.dataPa,
      );
    }
    return {
      fields: { bytes: d.length },
      regions: [
        { pa: data, pages: 1, what: "value descriptor" },
        { pa: d.dataPa, pages: d.pages, what: "value data" },
      ],
    };
  },
};
