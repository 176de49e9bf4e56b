/**
 * Seeded mutations of a base arena: each is a list of byte patches (or a
 * truncation) aimed at one structure, so that a failing case can be saved
 * and replayed exactly.
 *
 * @module
 */

import { BLOCK_HEADER } from "../../lib/format/block.ts";
import { FILE_SER } from "../../lib/format/file_ser.ts";
import { MEMFD_SER } from "../../lib/format/memfd_ser.ts";
import { MEMFD_V2_PAGE, MEMFD_V2_SER } from "../../lib/format/memfd_v2_ser.ts";
import { SESSION_SER } from "../../lib/format/session_ser.ts";
import { PAGE_SIZE, PHYS_BASE } from "../../lib/kho/arena.ts";
import type { Rng } from "../rng.ts";
import { KVMAP_GENERATORS } from "./mutate_kvmap.ts";
import {
  flip,
  type Gen,
  type Mutation,
  off,
  type Patch,
  u32be,
  u32le,
  u64,
  wildValue,
} from "./patch.ts";
import type { Layout } from "./shapes.ts";

export type { Mutation, Patch };

const GENERATORS: Record<string, Gen> = {
  ...KVMAP_GENERATORS,
  "bitflip-header": (rng, _l, base) => flip(rng, base, rng.int(64), "header"),
  "bitflip-structure": (rng, l, base) => {
    const targets = [
      l.khoFdt,
      l.luoFdt,
      ...l.chains.flatMap((c) => c.blocks),
      ...l.descriptors,
      ...l.descriptorPages,
    ];
    const pa = rng.pick(targets);
    return flip(
      rng,
      base,
      off(pa) + (rng.next() < 0.5 ? rng.int(64) : rng.int(PAGE_SIZE)),
      "structure",
    );
  },
  "block-count": (rng, l) => {
    if (!l.chains.length) return null;
    const c = rng.pick(l.chains);
    const pa = rng.pick(c.blocks);
    const v = rng.pick([
      0n,
      BigInt(c.perBlock + 1),
      1n << 40n,
      (1n << 64n) - 1n,
      BigInt(rng.int(c.perBlock + 1)),
    ]);
    return {
      kind: "block-count",
      description: `${c.kind} block 0x${pa.toString(16)}: count = ${v}`,
      patches: [u64(off(pa) + BLOCK_HEADER.count, v)],
    };
  },
  "block-next": (rng, l) => {
    if (!l.chains.length) return null;
    const c = rng.pick(l.chains);
    const k = rng.int(c.blocks.length);
    const pa = c.blocks[k];
    const choice = rng.int(5);
    let v: bigint;
    let what: string;
    if (choice === 0) {
      [v, what] = [PHYS_BASE + BigInt(l.size) + BigInt(rng.int(64) * PAGE_SIZE), "outside"];
    } else if (choice === 1) [v, what] = [pa + BigInt(1 + rng.int(PAGE_SIZE - 1)), "unaligned"];
    else if (choice === 2) [v, what] = [pa, "to itself"];
    else if (choice === 3) {
      const len = 1 + rng.int(k + 1);
      [v, what] = [c.blocks[k + 1 - len], `cycle of ${len}`];
    } else [v, what] = [wildValue(rng, l, pa), "wild"];
    return {
      kind: "block-next",
      description: `${c.kind} block ${k} next = 0x${v.toString(16)} (${what})`,
      patches: [u64(off(pa) + BLOCK_HEADER.next, v)],
    };
  },
  "name-no-nul": (rng, l) => {
    if (!l.sessionEntries.length) return null;
    const e = rng.pick(l.sessionEntries);
    return {
      kind: "name-no-nul",
      description: `session 0x${e.toString(16)}: name without NUL`,
      patches: [{ off: off(e) + SESSION_SER.name, bytes: Array(SESSION_SER.nameLen).fill(0x41) }],
    };
  },
  "name-empty": (rng, l) => {
    if (!l.sessionEntries.length) return null;
    const e = rng.pick(l.sessionEntries);
    return {
      kind: "name-empty",
      description: `session 0x${e.toString(16)}: empty name`,
      patches: [{ off: off(e), bytes: [0] }],
    };
  },
  "name-duplicate": (rng, l, base) => {
    if (l.sessionEntries.length < 2) return null;
    const i = rng.int(l.sessionEntries.length - 1);
    const j = i + 1 + rng.int(l.sessionEntries.length - i - 1);
    const src = off(l.sessionEntries[i]);
    return {
      kind: "name-duplicate",
      description: `session ${j} gets the name of session ${i}`,
      patches: [{
        off: off(l.sessionEntries[j]),
        bytes: [...base.subarray(src, src + SESSION_SER.nameLen)],
      }],
    };
  },
  "file-count": (rng, l) => {
    if (!l.sessionEntries.length) return null;
    const e = rng.pick(l.sessionEntries);
    const v = rng.pick([0n, 1n, 128n, 1n << 50n, BigInt(rng.int(300))]);
    return {
      kind: "file-count",
      description: `session 0x${e.toString(16)}: file count = ${v}`,
      patches: [u64(off(e) + SESSION_SER.count, v)],
    };
  },
  "file-set-pointer": (rng, l) => {
    if (!l.sessionEntries.length) return null;
    const e = rng.pick(l.sessionEntries);
    const v = wildValue(rng, l, e);
    return {
      kind: "file-set-pointer",
      description: `session 0x${e.toString(16)}: files = 0x${v.toString(16)}`,
      patches: [u64(off(e) + SESSION_SER.files, v)],
    };
  },
  "compat-no-nul": (rng, l) => {
    const files = l.fileEntries.flat();
    if (!files.length) return null;
    const e = rng.pick(files);
    return {
      kind: "compat-no-nul",
      description: `file 0x${e.toString(16)}: compatible without NUL`,
      patches: [{ off: off(e), bytes: Array(FILE_SER.compatibleLen).fill(0x42) }],
    };
  },
  "compat-unknown": (rng, l) => {
    const files = l.fileEntries.flat();
    if (!files.length) return null;
    const e = rng.pick(files);
    return {
      kind: "compat-unknown",
      description: `file 0x${e.toString(16)}: compatible "bogus-v9"`,
      patches: [{ off: off(e), bytes: [...new TextEncoder().encode("bogus-v9\0")] }],
    };
  },
  "token-duplicate": (rng, l, base) => {
    const sets = l.fileEntries.filter((f) => f.length >= 2);
    if (!sets.length) return null;
    const f = rng.pick(sets);
    const i = rng.int(f.length - 1);
    const j = i + 1 + rng.int(f.length - i - 1);
    const src = off(f[i]) + FILE_SER.token;
    return {
      kind: "token-duplicate",
      description: `file ${j} gets the token of file ${i}`,
      patches: [{ off: off(f[j]) + FILE_SER.token, bytes: [...base.subarray(src, src + 8)] }],
    };
  },
  "file-data": (rng, l) => {
    const files = l.fileEntries.flat();
    if (!files.length) return null;
    const e = rng.pick(files);
    const v = wildValue(rng, l, e);
    return {
      kind: "file-data",
      description: `file 0x${e.toString(16)}: data = 0x${v.toString(16)}`,
      patches: [u64(off(e) + FILE_SER.data, v)],
    };
  },
  "memfd-descriptor": (rng, l) => {
    if (!l.descriptors.length) return null;
    const d = rng.pick(l.descriptors);
    const field = rng.pick([
      MEMFD_SER.fileSize,
      MEMFD_SER.pos,
      MEMFD_SER.extentsPa,
      MEMFD_SER.nextents,
    ]);
    const v = wildValue(rng, l, d);
    return {
      kind: "memfd-descriptor",
      description: `memfd 0x${d.toString(16)} field +${field} = 0x${v.toString(16)}`,
      patches: [u64(off(d) + field, v)],
    };
  },
  "memfd-v2-descriptor": (rng, l) => {
    if (!l.slots.length) return null;
    const d = rng.pick(l.slots);
    const field = rng.pick([
      MEMFD_V2_SER.size,
      MEMFD_V2_SER.pos,
      MEMFD_V2_SER.extentsPa,
      MEMFD_V2_SER.inline,
      MEMFD_V2_SER.inline + 8,
    ]);
    const v = wildValue(rng, l, d);
    const small = rng.pick([0, 6, 0x20, 0x80000000, rng.int(64)]);
    const narrow = rng.next() < 0.5; // seals and nextents are u32
    const at = narrow ? rng.pick([MEMFD_V2_SER.seals, MEMFD_V2_SER.nextents]) : field;
    return {
      kind: "memfd-v2-descriptor",
      description: `memfd-v2 0x${d.toString(16)} field +${at} = 0x${
        (narrow ? BigInt(small) : v).toString(16)
      }`,
      patches: [narrow ? u32le(off(d) + at, small) : u64(off(d) + at, v)],
    };
  },
  "memfd-v2-page": (rng, l) => {
    if (!l.descriptorPages.length) return null;
    const p = rng.pick(l.descriptorPages);
    const at = rng.pick([
      MEMFD_V2_PAGE.magic,
      MEMFD_V2_PAGE.slots,
      MEMFD_V2_PAGE.live,
      MEMFD_V2_PAGE.bitmap,
    ]);
    const v = rng.pick([0, 1, 33, 0xffffffff, rng.int(2 ** 32)]);
    return {
      kind: "memfd-v2-page",
      description: `memfd-v2 page 0x${p.toString(16)} header +${at} = 0x${v.toString(16)}`,
      patches: [u32le(off(p) + at, v)],
    };
  },
  "map-entry": (rng, l) => {
    const map = l.chains.find((c) => c.kind === "map");
    if (!map) return null;
    const b = rng.pick(map.blocks);
    const k = rng.int(8);
    const field = rng.int(2) * 8;
    const v = field === 8 ? rng.pick([0n, 3n, 1n << 40n, 2n]) : wildValue(rng, l, b);
    return {
      kind: "map-entry",
      description: `map entry ${k} field +${field} = 0x${v.toString(16)}`,
      patches: [u64(off(b) + 16 + k * 16 + field, v)],
    };
  },
  "header-field": (rng, l) => {
    const field = rng.pick([8, 12, 16, 24, 32, 40, 48]);
    const v = field === 8 || field === 12
      ? BigInt(rng.pick([0, 2, 4097, 0xffffffff]))
      : wildValue(rng, l, PHYS_BASE);
    const patch = field === 8 || field === 12
      ? { off: field, bytes: [...u64(0, v).bytes.slice(0, 4)] }
      : u64(field, v);
    return {
      kind: "header-field",
      description: `header +${field} = 0x${v.toString(16)}`,
      patches: [patch],
    };
  },
  "fdt-header": (rng, l) => {
    const fdt = rng.pick([l.khoFdt, l.luoFdt]);
    const field = rng.int(10) * 4;
    const v = rng.pick([0, 1, 16, 17, 40, 0xd00dfeed, 0xffffffff, rng.int(8192), 3]);
    return {
      kind: "fdt-header",
      description: `FDT 0x${fdt.toString(16)} header word ${field / 4} = ${v}`,
      patches: [u32be(off(fdt) + field, v)],
    };
  },
  "fdt-body": (rng, l) => {
    const fdt = rng.pick([l.khoFdt, l.luoFdt]);
    const at = off(fdt) + 40 + rng.int(200);
    return {
      kind: "fdt-body",
      description: `FDT 0x${fdt.toString(16)} byte +${at - off(fdt)} = random`,
      patches: [{ off: at, bytes: [rng.int(256)] }],
    };
  },
  "truncate": (rng, l) => {
    const len = rng.pick([
      0,
      10,
      56,
      PAGE_SIZE,
      l.size / 2,
      l.size - PAGE_SIZE,
      l.size - 1,
      rng.int(l.size),
    ]);
    return {
      kind: "truncate",
      description: `truncate to ${len} bytes`,
      patches: [],
      truncate: len,
    };
  },
};

/** Every mutation kind. */
export const KINDS: string[] = Object.keys(GENERATORS);

/** The kinds aimed at a map's structures. */
const KVMAP_KINDS = KINDS.filter((k) => k.startsWith("kvmap-"));

/**
 * Draws one mutation (patches computed against `base`); an arena holding
 * maps gets one aimed at them more often than not.
 */
export function mutate(rng: Rng, layout: Layout, base: Uint8Array): Mutation {
  for (let tries = 0; tries < 64; tries++) {
    const kinds = layout.kvmaps.length && rng.next() < 0.6 ? KVMAP_KINDS : KINDS;
    const m = GENERATORS[rng.pick(kinds)](rng, layout, base);
    if (m) return m;
  }
  return { kind: "none", description: "no mutation applies", patches: [] };
}
