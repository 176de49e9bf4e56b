/**
 * The handover itself: freeze every file, fill the blocks, publish the
 * device trees and the preserved-memory map; all or nothing.
 *
 * @module
 */

import { LiveUpdateError, UnflushedHandoverError } from "../errors.ts";
import { withRollbackErrors } from "./context.ts";
import type { BlockChain } from "../format/block.ts";
import { placeRoots } from "../format/roots.ts";
import { writeSessionEntry } from "../format/session_ser.ts";
import type { Arena } from "../kho/arena.ts";
import type { FlbRegistry } from "./flb.ts";
import type { OutgoingSession } from "./session.ts";

/** What a handover writes. */
/**
 * What a handover did.
 *
 * @example
 * ```ts
 * import { type HandoverSummary, LiveUpdate, Value } from "@luo/live-update";
 * const luo = LiveUpdate.create({ size: 1 << 20 });
 * luo.createSession("svc").preserve(new Value({ hits: 1 }), 1n);
 * const summary: HandoverSummary = luo.handover();
 * console.log(summary.liveupdateNumber, summary.sessions, summary.files); // 1n 1 1
 * Deno.removeSync(luo.arena.path); // no successor here: remove the handed-over arena
 * ```
 */
export interface HandoverSummary {
  /** The number this handover carries (`liveupdate-number`). */
  liveupdateNumber: bigint;
  /** Sessions handed over. */
  sessions: number;
  /** Files handed over, in all sessions. */
  files: number;
  /** Physical address of the KHO root FDT. */
  root: bigint;
}

export interface HandoverInput {
  arena: Arena;
  /** The outgoing sessions, in creation order. */
  sessions: OutgoingSession[];
  /** The session chain (reserved for the sessions as they were created). */
  sessionChain: BlockChain;
  /** The FLBs in use. */
  flbs: FlbRegistry;
  /** The FLB chain (reserved here). */
  flbChain: BlockChain;
  /** The number this handover carries. */
  liveupdateNumber: bigint;
}

/**
 * Freezes every file (sessions in creation order, files in preservation
 * order), fills the blocks, places the device trees and commits the arena's
 * handover. If anything fails, what was frozen is unfrozen (files forward,
 * sessions in reverse), the blocks are cleared and the device trees freed,
 * and the error is thrown: nothing is half handed over.
 */
export function handOver(input: HandoverInput): HandoverSummary {
  const { arena, sessions, sessionChain, flbs, flbChain, liveupdateNumber } = input;
  let frozen = 0;
  const fdtPages: bigint[] = [];
  try {
    for (; frozen < sessions.length; frozen++) sessions[frozen].files.freeze();
    for (const s of sessions) s.files.fill();
    sessionChain.fill(sessions.length, (dv, bytes, off, i) => {
      const s = sessions[i];
      writeSessionEntry(dv, bytes, off, s.nameBytes, s.files.head, s.files.count);
    });
    const flbHeader = flbs.fill(flbChain);
    const root = placeRoots(
      arena,
      { liveupdateNumber, sessionHeader: sessionChain.head, flbHeader },
      fdtPages,
    );
    arena.handover(root);
    return {
      liveupdateNumber,
      sessions: sessions.length,
      files: sessions.reduce((a, s) => a + s.files.count, 0),
      root,
    };
  } catch (e) {
    // Committed but not flushed: the image is out, nothing may be undone.
    if (e instanceof UnflushedHandoverError) throw e;
    for (const pa of fdtPages) arena.unpreserveFree(pa);
    sessionChain.clear();
    flbChain.destroy();
    const rollback: LiveUpdateError[] = [];
    for (let i = Math.min(frozen, sessions.length) - 1; i >= 0; i--) {
      rollback.push(...sessions[i].files.unfreeze());
    }
    throw e instanceof LiveUpdateError ? withRollbackErrors(e, rollback) : e;
  }
}
