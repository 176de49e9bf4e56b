/**
 * Asserting typed errors: the code and the words of the message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LiveUpdateError } from "../lib/errors.ts";

/** Asserts that `fn` throws a {@link LiveUpdateError} of `code` whose message matches `pattern`. */
export function assertCode(fn: () => unknown, code: string, pattern?: RegExp): LiveUpdateError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LiveUpdateError, `expected a LiveUpdateError, got ${e}`);
    assert.equal(e.code, code, `wrong code in: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}
