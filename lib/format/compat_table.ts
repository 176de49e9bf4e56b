/**
 * The compatible strings met while reading one image, as the table of
 * tags the native record reader matches `luo_file_ser.compatible` fields
 * against (48-byte fields, NUL-padded), with their decoded strings by id.
 * Shared by all the sessions of an image so that each is decoded once.
 *
 * @module
 */

import type { TagTable } from "../kho/records.ts";
import { readCString } from "./c_string.ts";
import { COMPATIBLE_LEN, compatibleField } from "./compatible.ts";

/** Most distinct compatible strings one image may hold (ids are u16). */
export const MAX_COMPATS = 65535;
/** Room of an open table at first, in strings; it grows 16-fold when full. */
const OPEN_ROOM = 64;

/** The known (or, open, met) compatible strings of one image. */
export class CompatTable {
  /** The decoded strings, by id. */
  readonly names: string[];
  #tags: TagTable;

  /**
   * A table of the `known` compatible strings (any other is refused), or
   * with `"any"` an open one that takes every well-formed string it meets
   * (inspection).
   */
  constructor(known: readonly string[] | "any") {
    const field = COMPATIBLE_LEN;
    if (known === "any") {
      this.names = [];
      this.#tags = { bytes: new Uint8Array(OPEN_ROOM * field), count: 0, open: true };
      return;
    }
    this.names = [...known];
    const bytes = new Uint8Array(known.length * field);
    known.forEach((c, i) => bytes.set(compatibleField(c), i * field));
    this.#tags = { bytes, count: known.length, open: false };
  }

  /** The table the native reader matches against (and, open, adds to). */
  get tags(): TagTable {
    return this.#tags;
  }

  /** Decodes the strings the reader added to an open table. */
  sync(): void {
    const field = COMPATIBLE_LEN;
    for (let id = this.names.length; id < this.#tags.count; id++) {
      // The reader checked it: NUL-terminated, non-empty, UTF-8.
      this.names.push(readCString(this.#tags.bytes, id * field, field)!);
    }
  }

  /** Makes an open table 16 times roomier (up to MAX_COMPATS); false when it cannot grow. */
  grow(): boolean {
    const field = COMPATIBLE_LEN;
    const room = this.#tags.bytes.length / field;
    if (!this.#tags.open || room >= MAX_COMPATS) return false;
    const bytes = new Uint8Array(Math.min(room * 16, MAX_COMPATS) * field);
    bytes.set(this.#tags.bytes);
    this.#tags = { ...this.#tags, bytes };
    return true;
  }
}
