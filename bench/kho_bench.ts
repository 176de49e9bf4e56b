// Native allocator and FFI costs, as ratios to an empty FFI call (baseline).
import { Arena, PAGE_SIZE } from "../lib/kho/arena.ts";
import { nativeNoop } from "../lib/kho/faults.ts";

const arena = Arena.create({ size: 256 << 20 });
addEventListener("unload", () => {
  arena.close();
});

Deno.bench({ name: "empty FFI call (kho_noop)", group: "ffi", baseline: true }, () => {
  nativeNoop(arena);
});

Deno.bench({ name: "alloc + free, 1 page", group: "ffi" }, () => {
  arena.free(arena.alloc(PAGE_SIZE));
});

Deno.bench({ name: "alloc + free, 64 KiB", group: "ffi" }, () => {
  arena.free(arena.alloc(64 * 1024));
});

Deno.bench({ name: "alloc_preserve + unpreserve_free, 1 page", group: "ffi" }, () => {
  arena.unpreserveFree(arena.allocPreserve(PAGE_SIZE));
});

// With many blocks live, allocation cost must not grow (no scans).
const held: bigint[] = [];
for (let i = 0; i < 20_000; i++) held.push(arena.alloc(PAGE_SIZE));
Deno.bench({ name: "alloc + free, 1 page, 20k blocks live", group: "ffi" }, () => {
  arena.free(arena.alloc(PAGE_SIZE));
});

Deno.bench({ name: "zero-copy view of a region (no FFI)", group: "ffi" }, () => {
  arena.bytes(held[0], PAGE_SIZE);
});
