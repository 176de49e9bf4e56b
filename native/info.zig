//! The page accounting and header state of an open arena, as kho_info
//! writes it (lib/kho/info.ts decodes it field by field and checks its size
//! with kho_info_size).

const journal = @import("journal.zig");
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;

/// The fields, u64 each, in this order.
pub const Info = extern struct {
    size: u64,
    phys_base: u64,
    page_size: u64,
    pages: u64,
    free_pages: u64,
    allocated_pages: u64,
    preserved_pages: u64,
    preserved_blocks: u64,
    handed_over_pages: u64,
    handed_over_blocks: u64,
    allocations: u64,
    incoming_fdt_pa: u64,
    handovers: u64,
    flags: u64,
    deferred_pages: u64,
    zeroed_pages: u64,
};

/// The info of `self`.
pub fn of(self: *const Arena) Info {
    const s = self.buddy.stats;
    return .{
        .size = self.mem.len,
        .phys_base = PHYS_BASE,
        .page_size = PAGE_SIZE,
        .pages = self.buddy.npages,
        .free_pages = s.free_pages,
        .allocated_pages = s.allocated_pages,
        .preserved_pages = s.preserved_pages,
        .preserved_blocks = s.preserved_blocks,
        .handed_over_pages = s.handed_over_pages,
        .handed_over_blocks = s.handed_over_blocks,
        .allocations = s.allocations,
        .incoming_fdt_pa = self.incoming_fdt_pa,
        .handovers = journal.published(self).handovers,
        .flags = self.flags,
        .deferred_pages = s.deferred_pages,
        .zeroed_pages = self.zeroed_pages,
    };
}
