/**
 * The lifetime of an arena's memory. The mapping is released only by an
 * explicit `close` (or `handover`, `using`), never by the garbage
 * collector: a view (or a buffer transferred out of one, with `postMessage`
 * or `structuredClone`) may outlive every object that points at the arena,
 * and memory must never be unmapped under it. An arena nobody closes stays
 * mapped and locked until the process exits; a temporary one's file is
 * removed at exit.
 *
 * The views the library hands out as owned views (a memory file's) are
 * kept here until revoked: at `close` they are detached (length 0), so none
 * can reach unmapped memory. If one of them was transferred away by its
 * user, its memory cannot be revoked: the mapping is then kept until the
 * process exits.
 *
 * @module
 */

import { removeIfPresent } from "./temporary.ts";

/**
 * The buffers of one arena's memory handed out as owned views, held until
 * they are revoked: one its user transferred away (`postMessage`,
 * `structuredClone`) cannot be revoked, and holding its original is what
 * tells it apart from one that was never transferred (a weak reference
 * would lose it to the collector, and the arena would then be unmapped
 * under the transferred copy).
 */
export class ArenaBuffers {
  #buffers = new Set<ArrayBuffer>();

  /** Starts tracking `buffer` (a view's memory that `revokeAll` must revoke). */
  track(buffer: ArrayBuffer): void {
    this.#buffers.add(buffer);
  }

  /**
   * Detaches one tracked buffer now (e.g. a memory file closed); false if
   * it was transferred away (it stays tracked: its memory is still in use).
   */
  revoke(buffer: ArrayBuffer): boolean {
    if (!this.#buffers.has(buffer)) return true; // revoked before
    if (buffer.detached) return false;
    buffer.transfer(0);
    this.#buffers.delete(buffer);
    return true;
  }

  /**
   * Detaches every tracked buffer. Returns false when one was transferred
   * away by its user (then its memory may still be reachable: do not unmap).
   */
  revokeAll(): boolean {
    let revocable = true;
    for (const buffer of [...this.#buffers]) revocable = this.revoke(buffer) && revocable;
    return revocable;
  }
}

/** Temporary arena files of this process not handed over yet: removed at exit. */
const temporaryFiles = new Set<string>();
let listening = false;

/** Removes `path` when the process exits, unless {@link keepTemporary} is called first. */
export function removeAtExit(path: string): void {
  temporaryFiles.add(path);
  if (listening) return;
  listening = true;
  globalThis.addEventListener("unload", () => {
    for (const p of temporaryFiles) removeIfPresent(p);
  });
}

/** `path` is handed over (a successor needs it) or removed already: keep it at exit. */
export function keepTemporary(path: string): void {
  temporaryFiles.delete(path);
}
