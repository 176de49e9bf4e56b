/**
 * The sections of `./luo bench --report`, in the order they run and
 * appear. To add one: a module exporting a `ReportSection` (see
 * `section.ts`; a whole `deno bench` file is `suiteSection({...})` from
 * `suite.ts`), and one line here.
 *
 * @module
 */

import { coldReadSection } from "./cold_read.ts";
import { entriesSection } from "./entries.ts";
import { keepAliveSection } from "./keep_alive.ts";
import { kvmapReportSection } from "./kvmap.ts";
import { lifecycleSection } from "./lifecycle.ts";
import { memorySection } from "./memory.ts";
import type { ReportSection } from "./section.ts";
import { suiteSection } from "./suite.ts";

/** Every section, in order. */
export const SECTIONS: readonly ReportSection[] = [
  lifecycleSection,
  keepAliveSection,
  entriesSection,
  coldReadSection,
  memorySection,
  kvmapReportSection,
  suiteSection({
    id: "unpreserve",
    title: "Unpreserving in any order",
    file: "bench/unpreserve_bench.ts",
    intro: [
      "One session of N bare files: unpreserve oldest first, newest first, and a sliding window",
      "(evict the oldest, preserve a new one). Time per file (÷ N) must not grow from 10k to 80k.",
    ],
  }),
  suiteSection({
    id: "native",
    title: "Native calls",
    file: "bench/kho_bench.ts",
    intro: ["The arena's calls through FFI, in one warm process, against an empty FFI call."],
  }),
  suiteSection({
    id: "drop",
    title: "The successor's drop of the predecessor's leftovers",
    file: "bench/kho_drop_bench.ts",
    intro: [
      "At the arena level: of 2N handed-over one-page blocks the successor keeps every other one;",
      "its handover frees the rest in one pass. The time per block (÷ N) must not grow with N.",
    ],
  }),
  suiteSection({
    id: "library",
    title: "Loading the native library",
    file: "bench/library_bench.ts",
    intro: [
      "As a JSR user's process: the first run downloads the library (here from a package server on",
      "127.0.0.1), checks its SHA-256 and stores it; later runs check the cached file and load it.",
    ],
  }),
];
