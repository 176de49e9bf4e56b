/**
 * Progress of a long report on stderr: one line per step, with the time
 * since the report started, so that a run of an hour shows it is alive and
 * where it is.
 *
 * @module
 */

/** Writes progress lines; `quiet` silences them. */
export class Progress {
  readonly #start = performance.now();
  readonly #quiet: boolean;
  readonly #write: (line: string) => void;

  /** Lines go to `write` (default: stderr). */
  constructor(quiet = false, write: (line: string) => void = (l) => console.error(l)) {
    this.#quiet = quiet;
    this.#write = write;
  }

  /** Seconds since the report started. */
  get elapsedS(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /** Writes `text`, prefixed with the elapsed time (`bench [12:34] ...`). */
  note(text: string): void {
    if (this.#quiet) return;
    const s = Math.floor(this.elapsedS);
    const clock = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    this.#write(`bench [${clock}] ${text}`);
  }
}
