/**
 * Progress on stderr for long work: a redrawn bar on a terminal, plain
 * periodic lines otherwise, nothing for work that ends within a second.
 *
 * @module
 */

const enc = new TextEncoder();

/** Reports `done / total` of a named step. */
export class Progress {
  #label: string;
  #total: number;
  #start = performance.now();
  #last = 0;
  #tty = Deno.stderr.isTerminal();
  #shown = false;
  #quiet: boolean;

  /** Starts a step of `total` units; `quiet` silences it. */
  constructor(label: string, total: number, quiet = false) {
    this.#label = label;
    this.#total = Math.max(1, total);
    this.#quiet = quiet;
  }

  /** Records progress; draws at most 10 times a second on a terminal, every 2 s otherwise. */
  tick(done: number): void {
    if (this.#quiet) return;
    const now = performance.now();
    if (now - this.#start < 1000) return;
    if (now - this.#last < (this.#tty ? 100 : 2000)) return;
    this.#last = now;
    this.#shown = true;
    const pct = Math.floor((done / this.#total) * 100);
    if (this.#tty) {
      const width = 30;
      const fill = Math.round((done / this.#total) * width);
      const bar = "#".repeat(fill) + ".".repeat(width - fill);
      Deno.stderr.writeSync(
        enc.encode(`\r${this.#label} [${bar}] ${pct}% (${done}/${this.#total})`),
      );
    } else {
      Deno.stderr.writeSync(enc.encode(`${this.#label}: ${done}/${this.#total} (${pct}%)\n`));
    }
  }

  /** Ends the step (clears the bar line). */
  done(): void {
    if (this.#quiet || !this.#shown) return;
    if (this.#tty) Deno.stderr.writeSync(enc.encode(`\r${this.#label}: done${" ".repeat(50)}\n`));
    else Deno.stderr.writeSync(enc.encode(`${this.#label}: done\n`));
  }
}
