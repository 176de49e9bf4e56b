/**
 * Command-line arguments before `parseArgs`: a negative number as the
 * value of an option (`--sessions -1`) is joined to it (`--sessions=-1`),
 * so that the command reports the allowed range instead of `parseArgs`
 * calling the argument ambiguous.
 *
 * @module
 */

/** `args` with `--NAME -N` (NAME one of `valued`, N a number) written as `--NAME=-N`. */
export function joinNegativeValues(args: readonly string[], valued: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--") ? args[i].slice(2) : undefined;
    const next = args[i + 1];
    if (name !== undefined && valued.includes(name) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}
