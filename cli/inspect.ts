/**
 * `inspect ARENA`: a readable tree (or JSON) of what an arena holds.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { inspectArena, type InspectReport } from "../tools.ts";
import { UsageError } from "./errors.ts";
import { PROG } from "./program.ts";

/** Help of `inspect`. */
export const INSPECT_HELP = `usage: ${PROG} inspect ARENA [--json]

Reads an arena without changing it (no lock is taken) and shows: the
header, the decoded KHO and LUO device trees, every session with its files
(token, compatible, size), each block chain (blocks, entries per block),
the handed-over regions and the regions nobody references. On a damaged
arena it shows what it could read and the error for the rest (exit 1).

  --json    print the report as JSON`;

const MiB = 1 << 20;

/** Runs inspect; returns the exit code. */
export function inspect(args: string[]): number {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean" }, debug: { type: "boolean" } },
  });
  if (values.help) {
    console.log(INSPECT_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("inspect: give exactly one ARENA path");
  const report = inspectArena(positionals[0]);
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(render(report));
  if (report.error) console.error(`luo: inspect: ${report.error.message}`);
  return report.error ? 1 : 0;
}

function blocks(counts: number[] | undefined): string {
  if (!counts || counts.length === 0) return "no blocks";
  const shown = counts.length > 8 ? [...counts.slice(0, 8), "..."] : counts;
  return `${counts.length} block${counts.length === 1 ? "" : "s"} [${shown.join(", ")}]`;
}

function indent(text: string, pad: string): string {
  return text.split("\n").map((l) => pad + l.replaceAll("\t", "  ")).join("\n");
}

/** A file's fields as words: `size` in bytes, counts with their noun, the rest as `key value`. */
function fieldWords(f: Record<string, string | number>): string {
  return Object.entries(f).map(([k, v]) => {
    if (k === "size") return `${v} bytes`;
    if (typeof v === "number" && k.endsWith("s")) return `${v} ${v === 1 ? k.slice(0, -1) : k}`;
    return `${k} ${v}`;
  }).join(", ");
}

function renderHeader(r: InspectReport, out: string[]): void {
  const h = r.header;
  out.push(`arena ${r.path}`);
  out.push(
    `  header: ${h.magic} v${h.version}, page ${h.pageSize}, size ${h.size} (${
      (h.size / MiB).toFixed(1)
    } MiB), phys_base ${h.physBase}, handovers ${h.handovers}`,
  );
  out.push(`          fdt_pa ${h.fdtPa}, mem_map_pa ${h.memMapPa}`);
  out.push(
    `  pages: ${r.pages.total} total, ${r.pages.handedOver} handed over in ${r.pages.handedOverBlocks} blocks, ` +
      `${r.pages.free} free`,
  );
  if (!r.handedOver) out.push("  nothing handed over");
  if (r.memMapBlocks) out.push(`  preserved-memory map: ${blocks(r.memMapBlocks)}`);
  if (r.khoFdt) out.push(`  KHO root FDT:\n${indent(r.khoFdt, "    ")}`);
  if (r.luoFdt) out.push(`  LUO FDT:\n${indent(r.luoFdt, "    ")}`);
  if (r.format) out.push(`  liveupdate-number ${r.liveupdateNumber}, format ${r.format}`);
}

function renderSessions(r: InspectReport, out: string[]): void {
  if (!r.sessions) return;
  out.push(`  sessions (${r.sessions.length}), session chain: ${blocks(r.sessionBlocks)}`);
  for (const s of r.sessions) {
    out.push(`    ${s.name}: ${s.files.length} files, file chain: ${blocks(s.fileBlocks)}`);
    const shown = s.files.slice(0, 20);
    for (const f of shown) {
      const detail = f.error
        ? `error: ${f.error}`
        : f.fields
        ? fieldWords(f.fields)
        : `data ${f.data}`;
      out.push(`      token ${f.token.padEnd(6)} ${f.compatible.padEnd(12)} ${detail}`);
    }
    if (s.files.length > shown.length) {
      out.push(`      ... ${s.files.length - shown.length} more files`);
    }
  }
}

function renderFlbs(r: InspectReport, out: string[]): void {
  if (!r.flbs?.length) return;
  out.push(`  file-lifecycle-bound objects (${r.flbs.length}):`);
  for (const f of r.flbs) {
    out.push(`    ${f.compatible.padEnd(24)} data ${f.data}, used by ${f.count} files`);
  }
}

function renderRegions(r: InspectReport, out: string[]): void {
  out.push(`  handed-over regions (${r.regions.length}):`);
  const kinds = new Map<string, { n: number; pages: number }>();
  for (const g of r.regions) {
    const k = (g.what ?? "unclaimed").replace(/ \(session .*\)| of session ".*"/, "");
    const e = kinds.get(k) ?? { n: 0, pages: 0 };
    e.n++;
    e.pages += g.pages;
    kinds.set(k, e);
  }
  for (const [k, e] of kinds) {
    out.push(`    ${String(e.n).padStart(6)} x ${k.padEnd(28)} ${e.pages} pages`);
  }
  out.push(`  unclaimed regions (${r.unclaimed.length})${r.unclaimed.length ? ":" : ""}`);
  for (const u of r.unclaimed.slice(0, 20)) out.push(`    ${u.pa}  ${u.pages} pages`);
}

/** The human-readable tree. */
export function render(r: InspectReport): string {
  const out: string[] = [];
  renderHeader(r, out);
  renderSessions(r, out);
  renderFlbs(r, out);
  renderRegions(r, out);
  if (r.error) out.push(`  error: ${r.error.message}`);
  return out.join("\n");
}
