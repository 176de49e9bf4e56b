/**
 * How a cold successor gets the predecessor's state back, four ways, each
 * timed from its first call to "first byte usable" (the first byte read)
 * and to "every byte read" (the same {@link WordChecksum} over every byte):
 *
 * - `memfd`: open the arena, retrieve the memory file, read its pages
 *   where they are (zero-copy views of its extents);
 * - `readFile`: `Deno.readFile` of the plain file;
 * - `stream`: the plain file read in chunks of {@link CHUNK} bytes into one
 *   reused buffer, each checksummed as it arrives;
 * - `v8`: `Deno.readFile` of the `node:v8` serialization, then `deserialize`.
 *
 * @module
 */

import { deserialize } from "node:v8";
import { LiveUpdate, LuoError, MemFile } from "../../mod.ts";
import { PAGE_SIZE } from "../../kho.ts";
import { WordChecksum } from "../../testing/checksum.ts";
import { MiB, STATE_SESSION, STATE_TOKEN, statePaths } from "./state.ts";

/** Bytes per read of the chunked method. */
export const CHUNK = MiB;

/** What one method measured. */
export interface ReadTimes {
  /** From the first call until the first byte was read. */
  firstByteNs: number;
  /** From the first call until every byte was checksummed. */
  everyByteNs: number;
  /** The checksum of every byte. */
  checksum: string;
  /** The first byte (read at "first byte usable"). */
  firstByte: number;
}

/** The methods, by name. */
export const READ_METHODS = {
  memfd: readMemfd,
  readFile,
  stream: readStream,
  v8: readV8,
} as const;

/** The name of a method. */
export type ReadMethod = keyof typeof READ_METHODS;

const since = (t0: number) => (performance.now() - t0) * 1e6;

/** Zero-copy views of a memory file's bytes, one per extent, in order. */
export function memFileViews(f: MemFile): Uint8Array[] {
  const views: Uint8Array[] = [];
  let left = f.size;
  for (const e of f.extents) {
    if (left === 0) break;
    const n = Math.min(left, e.pages * PAGE_SIZE);
    views.push(f.arena.bytes(e.pa, n));
    left -= n;
  }
  if (left !== 0) throw new LuoError("EBADMSG", `memfd extents hold ${f.size - left} of ${f.size}`);
  return views;
}

/** The memfd method; `after` runs on the views before the arena is closed (untimed). */
export function readMemfd(dir: string, after?: (views: Uint8Array[]) => void): ReadTimes {
  const t0 = performance.now();
  const luo = LiveUpdate.open(statePaths(dir).arena);
  try {
    const file = luo.retrieveSession(STATE_SESSION).retrieve(STATE_TOKEN, MemFile);
    const views = memFileViews(file);
    const firstByte = views[0][0];
    const firstByteNs = since(t0);
    const sum = new WordChecksum();
    for (const v of views) sum.update(v);
    const everyByteNs = since(t0);
    after?.(views);
    return { firstByteNs, everyByteNs, checksum: sum.digest(), firstByte };
  } finally {
    luo.close(); // no handover: the image stays for the next sample
  }
}

/** The `Deno.readFile` method. */
export async function readFile(dir: string): Promise<ReadTimes> {
  const t0 = performance.now();
  const data = await Deno.readFile(statePaths(dir).file);
  const firstByte = data[0];
  const firstByteNs = since(t0);
  const sum = new WordChecksum();
  sum.update(data);
  return { firstByteNs, everyByteNs: since(t0), checksum: sum.digest(), firstByte };
}

/** Fills `buf` from `file` (fewer bytes only at the end of the file); returns the bytes read. */
async function readFull(file: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let done = 0;
  // Bounded: every pass reads at least one byte or ends.
  while (done < buf.length) {
    const n = await file.read(buf.subarray(done));
    if (n === null || n === 0) break;
    done += n;
  }
  return done;
}

/** The chunked method. */
export async function readStream(dir: string): Promise<ReadTimes> {
  const t0 = performance.now();
  using file = await Deno.open(statePaths(dir).file, { read: true });
  const buf = new Uint8Array(CHUNK);
  const sum = new WordChecksum();
  let firstByteNs = -1;
  let firstByte = -1;
  const size = (await file.stat()).size;
  // Bounded by the file's size: every chunk but the last is full.
  for (let chunks = 0; chunks <= size / CHUNK; chunks++) {
    const n = await readFull(file, buf);
    if (n === 0) break;
    if (firstByteNs < 0) {
      firstByte = buf[0];
      firstByteNs = since(t0);
    }
    sum.update(buf.subarray(0, n));
  }
  if (sum.length !== size) throw new LuoError("EIO", `stream: read ${sum.length} of ${size}`);
  return { firstByteNs, everyByteNs: since(t0), checksum: sum.digest(), firstByte };
}

/** The `node:v8` method. */
export async function readV8(dir: string): Promise<ReadTimes> {
  const t0 = performance.now();
  const data = deserialize(await Deno.readFile(statePaths(dir).v8));
  if (!(data instanceof Uint8Array)) throw new LuoError("EBADMSG", "v8: not a Uint8Array");
  const firstByte = data[0];
  const firstByteNs = since(t0);
  const sum = new WordChecksum();
  sum.update(data);
  return { firstByteNs, everyByteNs: since(t0), checksum: sum.digest(), firstByte };
}
