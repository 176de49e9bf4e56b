/**
 * Asserting typed errors: the code and the words of the message.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LiveUpdateError } from "../lib/errors.ts";

/**
 * Asserts that `fn` throws a {@link LiveUpdateError} of `code` whose message
 * matches `pattern`; `context` names the case in a failure.
 */
export function assertCode(
  fn: () => unknown,
  code: string,
  pattern?: RegExp,
  context = "",
): LiveUpdateError {
  const at = context ? ` (${context})` : "";
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof LiveUpdateError, `expected a LiveUpdateError${at}, got ${e}`);
    assert.equal(e.code, code, `wrong code${at} in: ${e.message}`);
    if (pattern) assert.match(e.message, pattern, `${e.message}${at}`);
    return e;
  }
  assert.fail(`expected ${code}${at}, nothing was thrown`);
}
