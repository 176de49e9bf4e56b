// The checksum every cold-read method is checked with: the same value for
// the same bytes however they arrive (chunks, aligned or not), a different
// one for a flipped byte or swapped chunks.
import assert from "node:assert/strict";
import { checksumOf, WordChecksum } from "../testing/checksum.ts";
import { assertCode } from "../testing/assert_code.ts";
import { Rng } from "../testing/rng.ts";

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

Deno.test("checksum: chunks of whole words give the one-shot value", () => {
  const data = randomBytes(4096 + 3, 1);
  const whole = checksumOf(data);
  for (const cut of [0, 4, 64, 1000, 4096]) {
    assert.equal(checksumOf(data.subarray(0, cut), data.subarray(cut)), whole, `cut at ${cut}`);
  }
  assert.match(whole, /^[0-9a-f]{16}\/4099$/);
});

Deno.test("checksum: a view not 4-byte aligned in its buffer gives the same value", () => {
  const data = randomBytes(10_000, 2);
  for (const offset of [1, 2, 3, 7]) {
    const shifted = new Uint8Array(data.length + offset);
    shifted.set(data, offset);
    assert.equal(checksumOf(shifted.subarray(offset)), checksumOf(data), `offset ${offset}`);
  }
});

Deno.test("checksum: a flipped byte, swapped chunks or a missing zero byte change it", () => {
  const data = randomBytes(8192, 3);
  const whole = checksumOf(data);
  for (const at of [0, 1, 4095, 8191]) {
    const flipped = data.slice();
    flipped[at] ^= 1;
    assert.notEqual(checksumOf(flipped), whole, `flip at ${at}`);
  }
  assert.notEqual(checksumOf(data.subarray(4096), data.subarray(0, 4096)), whole);
  const zeros = new Uint8Array(8);
  assert.notEqual(checksumOf(zeros), checksumOf(zeros.subarray(0, 4)));
});

Deno.test("checksum: nothing may follow a chunk that ended mid-word (EINVAL)", () => {
  const sum = new WordChecksum();
  sum.update(new Uint8Array(6));
  assertCode(() => sum.update(new Uint8Array(4)), "EINVAL", /mid-word/);
  assert.equal(sum.length, 6);
});
