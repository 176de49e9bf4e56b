/**
 * The report's own failure: a benchmark child that failed or printed
 * something other than its result, or results that contradict each other
 * (a checksum that differs). The message names the child and what it said.
 *
 * @module
 */

/** A benchmark run that cannot be reported. */
export class BenchError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BenchError";
  }
}
