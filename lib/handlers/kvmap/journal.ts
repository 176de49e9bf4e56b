/**
 * The commit protocol of a preserved map: its state lives in two copies
 * in the header page; a mutation edits the in-memory state, then
 * {@link Journal.commit} writes it into the copy not in use, stores its
 * sequence number in the header's `active` word (the one store that makes
 * the mutation happen), and applies the slot and dead-counter stores the
 * state names as pending. Everything a mutation writes before its commit
 * lies where the committed state does not point, so a process killed at
 * any point leaves the map as it was before or after the mutation; a
 * reader re-applies the committed state's pending stores.
 *
 * @module
 */

import { commitKvState } from "../../format/kvmap_ser.ts";
import { applyPendingSlot, type KvState, NONE } from "../../format/kvmap_state_ser.ts";

/** The committed state of a map and its next commit. */
export class Journal {
  /** The state: committed, or being edited by a mutation until its commit. */
  readonly state: KvState;
  private words: Int32Array;
  private hdr: number;
  private committed: number;

  /** Wraps the committed state `seq` of the header at word `hdr`. */
  constructor(words: Int32Array, hdr: number, state: KvState, seq: number) {
    this.words = words;
    this.hdr = hdr;
    this.state = state;
    this.committed = seq;
  }

  /** Sequence number of the committed state. */
  get seq(): number {
    return this.committed;
  }

  /** Starts editing the next state: no pending store yet. Returns the state. */
  begin(): KvState {
    const s = this.state;
    s.pendSlot = NONE;
    s.pendDeadSeg = NONE;
    return s;
  }

  /**
   * Commits the edited state, then applies its pending stores: `index` is
   * the word index of the index block, `rec` the word index of the record
   * the pending slot gets, `deadWord` the word index of the pending dead
   * counter (-1: none).
   */
  commit(index: number, rec: number, deadWord: number): void {
    const next = (this.committed + 1) >>> 0;
    commitKvState(this.words, this.hdr, next, this.state);
    this.committed = next;
    this.replay(index, rec, deadWord);
  }

  /** Applies the committed state's pending stores (again, for a reader after a crash). */
  replay(index: number, rec: number, deadWord: number): void {
    applyPendingSlot(this.words, this.state, index, rec);
    if (deadWord >= 0) this.words[deadWord] = this.state.pendDead;
  }
}
