/**
 * The state a predecessor hands to a cold successor in the two-process
 * benchmark, written once in every form the successors read it back: a
 * memory file handed over in an arena (zero-copy), a plain file
 * (`Deno.readFile`, chunked reads), and a `node:v8` serialization. All in
 * one directory (the report puts it beside its arenas: /dev/shm when
 * present, so every form is in RAM).
 *
 * @module
 */

import { serialize } from "node:v8";
import { LiveUpdate, MemFile } from "../../mod.ts";
import { checksumOf } from "../../testing/checksum.ts";
import { patternByte } from "../../testing/pattern.ts";

/** A MiB. */
export const MiB = 1 << 20;

/** The name of the session and the token of the memory file. */
export const STATE_SESSION = "state";
/** The token of the memory file. */
export const STATE_TOKEN = 0n;

/** Where every form of the state lives in `dir`. */
export function statePaths(dir: string): { arena: string; file: string; v8: string } {
  return { arena: `${dir}/state.arena`, file: `${dir}/state.bin`, v8: `${dir}/state.v8` };
}

/** Power-of-two arena size that holds a memory file of `bytes` (today one naturally aligned block). */
export function stateArenaSize(bytes: number): number {
  return 2 ** Math.ceil(Math.log2(bytes * 2 + 16 * MiB));
}

/**
 * `mib` MiB of state: a pattern, every MiB stamped with its index in its
 * first four bytes, so that a chunk read twice or out of order changes the
 * checksum.
 */
export function stateBytes(mib: number): Uint8Array {
  const block = new Uint8Array(MiB);
  for (let i = 0; i < MiB; i++) block[i] = patternByte(1, i);
  const data = new Uint8Array(mib * MiB);
  const dv = new DataView(data.buffer);
  for (let m = 0; m < mib; m++) {
    data.set(block, m * MiB);
    dv.setUint32(m * MiB, m, true);
  }
  return data;
}

/**
 * The predecessor: writes `mib` MiB of state into `dir` in every form and
 * hands the arena over; returns the checksum every successor must find.
 */
export function writeState(dir: string, mib: number): { bytes: number; checksum: string } {
  const data = stateBytes(mib);
  const paths = statePaths(dir);
  const luo = LiveUpdate.create({ path: paths.arena, size: stateArenaSize(data.length) });
  luo.createSession(STATE_SESSION).preserve(MemFile.from(luo.arena, data), STATE_TOKEN);
  luo.handover();
  Deno.writeFileSync(paths.file, data);
  Deno.writeFileSync(paths.v8, serialize(data));
  return { bytes: data.length, checksum: checksumOf(data) };
}
