/**
 * The native library's C ABI as Deno FFI declarations: every symbol of
 * native/kho.zig, declared once, and the ABI version they describe.
 *
 * @module
 */

/** ABI version these declarations describe (native `kho_abi_version`). */
export const ABI_VERSION = 5;

/** The native library's symbols. */
export const symbols = {
  kho_abi_version: { parameters: [], result: "u32" },
  kho_noop: { parameters: [], result: "void" },
  kho_last_error: { parameters: ["buffer", "usize"], result: "usize" },
  kho_create: { parameters: ["buffer", "usize", "u64", "u32", "buffer"], result: "i32" },
  kho_open: { parameters: ["buffer", "usize", "u32", "buffer"], result: "i32" },
  kho_close: { parameters: ["u32"], result: "i32" },
  kho_base: { parameters: ["u32"], result: "pointer" },
  kho_info_size: { parameters: [], result: "usize" },
  kho_info: { parameters: ["u32", "buffer"], result: "i32" },
  kho_phys_to_virt: { parameters: ["u32", "u64"], result: "pointer" },
  kho_alloc: { parameters: ["u32", "u64", "u32", "buffer"], result: "i32" },
  kho_free: { parameters: ["u32", "u64"], result: "i32" },
  kho_alloc_preserve: { parameters: ["u32", "u64", "u32", "buffer"], result: "i32" },
  kho_unpreserve_free: { parameters: ["u32", "u64"], result: "i32" },
  kho_free_unreferenced: { parameters: ["u32", "u64"], result: "i32" },
  kho_preserve: { parameters: ["u32", "u64", "u64"], result: "i32" },
  kho_unpreserve: { parameters: ["u32", "u64", "u64"], result: "i32" },
  kho_restore: { parameters: ["u32", "u64", "buffer"], result: "i32" },
  kho_restore_free: { parameters: ["u32", "u64"], result: "i32" },
  kho_handover: { parameters: ["u32", "u64"], result: "i32" },
  kho_attach: { parameters: ["u32", "u64"], result: "i32" },
  kho_discard_incoming: { parameters: ["u32"], result: "i32" },
  kho_copy: { parameters: ["u32", "u64", "u64", "u64"], result: "i32" },
  kho_fail_alloc_after: { parameters: ["u32", "u64"], result: "i32" },
  kho_fail_sync_after: { parameters: ["u32", "u64"], result: "i32" },
  kho_next_region: { parameters: ["u32", "u64", "u32", "buffer"], result: "i32" },
  kho_trim: { parameters: ["u32", "u64", "u64", "buffer", "u32", "buffer"], result: "i32" },
  kho_alloc_extents: {
    parameters: ["u32", "u64", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  kho_regions: { parameters: ["u32", "u32", "buffer", "u32", "buffer"], result: "i32" },
  kho_records_params_size: { parameters: [], result: "usize" },
  kho_read_records: {
    parameters: ["u32", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded native library. */
export type Native = Deno.DynamicLibrary<typeof symbols>["symbols"];
