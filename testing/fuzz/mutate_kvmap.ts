/**
 * Mutations aimed at a preserved map's structures: header, state copies
 * (a word patched, or a field changed and the copy sealed again),
 * directory, segment headers, index slots, record headers (a word
 * patched, or a field changed and its check word made right again).
 *
 * @module
 */

import { RECORD, recordCheck, SEGMENT, SLOT } from "../../lib/format/kvmap_log_ser.ts";
import { commitKvState, DIR, KVMAP_HEADER } from "../../lib/format/kvmap_ser.ts";
import { STATE } from "../../lib/format/kvmap_state_ser.ts";
import { type Gen, off, type Patch, u32le, wildWord, wordPatch } from "./patch.ts";

/** The generators, by kind (every kind starts with `kvmap-`). */
export const KVMAP_GENERATORS: Record<string, Gen> = {
  "kvmap-header": (rng, l, base) => {
    if (!l.kvmaps.length) return null;
    return wordPatch(rng, base, rng.pick(l.kvmaps).header, rng.int(5), "kvmap-header");
  },
  "kvmap-state": (rng, l, base) => {
    if (!l.kvmaps.length) return null;
    const m = rng.pick(l.kvmaps);
    if (rng.next() < 0.3) {
      return wordPatch(rng, base, m.stateCopy, rng.int(STATE.words), "kvmap-state");
    }
    // A field changed and the copy sealed again (valid checksum): the field checks must catch it.
    const field = rng.pick(Object.keys(m.state) as (keyof typeof m.state)[]);
    const state = { ...m.state, [field]: wildWord(rng, m.state[field]) };
    const page = base.slice(off(m.header), off(m.header) + KVMAP_HEADER.bytes);
    commitKvState(new Int32Array(page.buffer), 0, m.seq + 1, state);
    const patches: Patch[] = [];
    page.forEach((b, i) => {
      if (b !== base[off(m.header) + i]) patches.push({ off: off(m.header) + i, bytes: [b] });
    });
    return {
      kind: "kvmap-state",
      description: `kvmap state resealed with ${field} = ${state[field]}`,
      patches,
    };
  },
  "kvmap-dir": (rng, l, base) => {
    if (!l.kvmaps.length) return null;
    const m = rng.pick(l.kvmaps);
    const entry = rng.pick([m.state.headSeg, rng.int(8)]);
    return wordPatch(rng, base, m.dir + BigInt(entry * DIR.entryBytes), rng.int(2), "kvmap-dir");
  },
  "kvmap-segment": (rng, l, base) => {
    const segs = l.kvmaps.flatMap((m) => m.segments);
    if (!segs.length) return null;
    return wordPatch(rng, base, rng.pick(segs).pa, rng.int(SEGMENT.header / 4), "kvmap-segment");
  },
  "kvmap-slot": (rng, l, base) => {
    const slots = l.kvmaps.flatMap((m) => m.slots);
    if (!slots.length) return null;
    return wordPatch(rng, base, rng.pick(slots), rng.int(SLOT.words), "kvmap-slot");
  },
  "kvmap-record": (rng, l, base) => {
    const records = l.kvmaps.flatMap((m) => m.records);
    if (!records.length) return null;
    return wordPatch(rng, base, rng.pick(records), rng.int(6), "kvmap-record");
  },
  "kvmap-record-resealed": (rng, l, base) => {
    const records = l.kvmaps.flatMap((m) => m.records);
    if (!records.length) return null;
    // A field changed and the check word made right: the length checks must catch it.
    const at = off(rng.pick(records));
    const dv = new DataView(base.buffer, base.byteOffset);
    const field = rng.pick([RECORD.keyInfo, RECORD.valueLen]);
    const fields = [RECORD.hash, RECORD.keyInfo, RECORD.valueLen].map((f) =>
      dv.getUint32(at + f, true)
    );
    const v = wildWord(rng, dv.getUint32(at + field, true));
    fields[field / 4] = v;
    const check = recordCheck(fields[0] | 0, fields[1] | 0, fields[2] | 0);
    return {
      kind: "kvmap-record-resealed",
      description: `kvmap record at 0x${
        (BigInt(at)).toString(16)
      } field +${field} = ${v}, resealed`,
      patches: [u32le(at + field, v), u32le(at + RECORD.check, check)],
    };
  },
};
