/**
 * Downloading a native library, bounded in time and size: the whole
 * download (answer and body) is abandoned after {@link DOWNLOAD_TIMEOUT_MS}
 * (or `$LUO_DOWNLOAD_TIMEOUT_MS`, read only when `--allow-env` grants it:
 * it never prompts), and a body longer than expected is cut off.
 *
 * @module
 */

import { NativeLibraryError } from "../errors.ts";
import { type Access, isGranted } from "./access.ts";

/** How long a download may take, in milliseconds, before it is abandoned. */
export const DOWNLOAD_TIMEOUT_MS = 30_000;
/** Environment variable overriding {@link DOWNLOAD_TIMEOUT_MS} (milliseconds, 1 to 600000). */
export const TIMEOUT_ENV = "LUO_DOWNLOAD_TIMEOUT_MS";
const MAX_TIMEOUT_MS = 600_000;

/**
 * The download timeout: `$LUO_DOWNLOAD_TIMEOUT_MS` when set and readable
 * without asking, else {@link DOWNLOAD_TIMEOUT_MS}. `EINVAL` when it is not
 * an integer from 1 to 600000.
 */
export function downloadTimeout(): number {
  if (!isGranted({ name: "env", variable: TIMEOUT_ENV })) return DOWNLOAD_TIMEOUT_MS;
  const value = Deno.env.get(TIMEOUT_ENV);
  if (value === undefined || value === "") return DOWNLOAD_TIMEOUT_MS;
  const ms = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    throw new NativeLibraryError(
      "EINVAL",
      `$${TIMEOUT_ENV} must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, ` +
        `got "${value}"`,
    );
  }
  return ms;
}

/**
 * The body of `url`, at most `limit + 1` bytes (more means a wrong file
 * anyway); `EIO` for a network failure, an HTTP error or the timeout.
 */
export async function download(
  url: URL,
  limit: number,
  access: Access,
  timeoutMs: number,
): Promise<Uint8Array> {
  const what = `downloading the native library from ${url.href} (once; it is then cached)`;
  const signal = AbortSignal.timeout(timeoutMs);
  const failed = (e: unknown) => {
    const why = signal.aborted
      ? `no complete answer within ${timeoutMs} ms (${TIMEOUT_ENV} sets the limit)`
      : (e as Error).message;
    return new NativeLibraryError("EIO", `${what}: ${why}`, { cause: e });
  };
  const res = await access.runAsync({ name: "net", host: url.host }, what, async () => {
    try {
      return await fetch(url, { signal });
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) throw e;
      throw failed(e);
    }
  });
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new NativeLibraryError("EIO", `${what}: HTTP ${res.status} ${res.statusText}`);
  }
  try {
    return await readAtMost(res.body, limit + 1);
  } catch (e) {
    throw failed(e);
  }
}

async function readAtMost(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const out = new Uint8Array(max);
  let done = 0;
  const reader = body.getReader();
  // Bounded: the loop stops at `max` bytes, and the download's timeout ends it otherwise.
  while (done < max) {
    const { value, done: end } = await reader.read();
    if (end) return out.subarray(0, done);
    const n = Math.min(value.length, max - done);
    out.set(value.subarray(0, n), done);
    done += n;
  }
  // Longer than any right answer: stop receiving (the size check refuses it).
  await reader.cancel();
  return out;
}
