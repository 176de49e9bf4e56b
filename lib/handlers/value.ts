/**
 * The built-in value handler, compatible `"value-v1"`: plain JavaScript
 * state (a `Map`, an object, typed arrays, ...) preserved through the
 * structured clone serializer of `node:v8`, so that a service whose state
 * is not bytes preserves it in one call.
 *
 * Serialized form: `luo_file_ser.data` is the physical address of a
 * descriptor page `value_ser { u64 length; u64 data_pa; u64 npages; u64 version; }`
 * where `data_pa` holds `length` bytes of the v8 serializer's output. The
 * value is serialized at handover (freeze), so later changes are included.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import { COMPAT, VALUE_SER } from "../abi.ts";
import { claimBlock } from "../block.ts";
import { CorruptImageError, LuoError } from "../errors.ts";
import type { FileHandler, HandlerContext } from "../handler.ts";
import { blockPages, PAGE_SIZE } from "../kho.ts";

/** Version of the v8 wire format this build writes (checked by readers). */
const WIRE = 1n;

/**
 * A box around any structured-cloneable value, to preserve it in a session.
 *
 * @example
 * ```ts
 * import { LiveUpdate, Value } from "../../mod.ts";
 * using luo = LiveUpdate.create({ size: 1 << 20 });
 * const state = new Value(new Map([["hits", 41]]));
 * luo.createSession("svc").preserve(state, 1n);
 * state.value.set("hits", 42); // serialized at handover: this change goes too
 * ```
 */
export class Value<T = unknown> {
  /** The value; replace or mutate it freely until the handover. */
  value: T;
  /** Boxes `value`. */
  constructor(value: T) {
    this.value = value;
  }
}

interface State {
  desc: bigint;
  data: bigint; // 0n until frozen
}

const states = new WeakMap<Value, State>();

function readDescriptor({ arena }: HandlerContext, desc: bigint) {
  const dv = arena.dataView;
  const off = arena.offsetOf(desc, VALUE_SER.size);
  const length = dv.getBigUint64(off + VALUE_SER.length, true);
  const data = dv.getBigUint64(off + VALUE_SER.dataPa, true);
  const npages = dv.getBigUint64(off + VALUE_SER.npages, true);
  const version = dv.getBigUint64(off + VALUE_SER.version, true);
  if (version !== WIRE) {
    throw new CorruptImageError(
      `value: wire version ${version}, this build reads ${WIRE}`,
      desc,
      "EPROTO",
    );
  }
  if (
    length === 0n || length > BigInt(arena.size) || npages !== BigInt(blockPages(Number(length)))
  ) {
    throw new CorruptImageError(
      `value: ${length} bytes in ${npages} pages is not a valid descriptor`,
      desc,
    );
  }
  return { length: Number(length), data, pages: Number(npages) };
}

/** Claims, decodes and frees a handed-over value (its bytes are copied into the JS heap). */
function take(ctx: HandlerContext, desc: bigint): unknown {
  const { arena } = ctx;
  claimBlock(arena, desc, PAGE_SIZE, "value descriptor");
  try {
    const d = readDescriptor(ctx, desc);
    claimBlock(arena, d.data, d.pages * PAGE_SIZE, "value data");
    try {
      return deserialize(arena.bytes(d.data, d.length));
    } catch (e) {
      if (e instanceof LuoError) throw e;
      throw new CorruptImageError(
        `value: the v8 data cannot be decoded (${(e as Error).message})`,
        d.data,
      );
    } finally {
      arena.free(d.data);
    }
  } finally {
    arena.free(desc);
  }
}

/** The `"value-v1"` handler: preserves {@link Value} boxes. */
export const valueHandler: FileHandler<Value> = {
  compatible: COMPAT.value,
  canPreserve(_ctx, obj) {
    return obj instanceof Value;
  },
  preserve({ arena }, v) {
    const desc = arena.allocPreserve(PAGE_SIZE);
    arena.bytes(desc, VALUE_SER.size).fill(0);
    states.set(v, { desc, data: 0n });
    return desc;
  },
  unpreserve(ctx, v) {
    const st = states.get(v);
    if (!st) throw new LuoError("EINVAL", "value is not preserved");
    valueHandler.unfreeze(ctx, v, st.desc);
    ctx.arena.unpreserveFree(st.desc);
    states.delete(v);
  },
  freeze({ arena }, v, desc) {
    const st = states.get(v)!;
    let bytes: Uint8Array;
    try {
      bytes = serialize(v.value);
    } catch (e) {
      throw new LuoError("EINVAL", `value cannot be cloned: ${(e as Error).message}`);
    }
    const pages = blockPages(bytes.length);
    const data = arena.allocPreserve(pages * PAGE_SIZE);
    arena.bytes(data, bytes.length).set(bytes);
    st.data = data;
    const dv = arena.dataView;
    const off = arena.offsetOf(desc, VALUE_SER.size);
    dv.setBigUint64(off + VALUE_SER.length, BigInt(bytes.length), true);
    dv.setBigUint64(off + VALUE_SER.dataPa, data, true);
    dv.setBigUint64(off + VALUE_SER.npages, BigInt(pages), true);
    dv.setBigUint64(off + VALUE_SER.version, WIRE, true);
  },
  unfreeze({ arena }, v, desc) {
    const st = states.get(v)!;
    if (st.data !== 0n) arena.unpreserveFree(st.data);
    st.data = 0n;
    arena.bytes(desc, VALUE_SER.size).fill(0);
  },
  retrieve(ctx, desc) {
    return new Value(take(ctx, desc));
  },
  canFinish() {
    return true;
  },
  finish(ctx, obj, desc) {
    if (!obj) take(ctx, desc);
  },
};
