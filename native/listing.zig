//! Removing a block from the published preserved-memory map at once, and
//! reusing the slot it leaves.
//!
//! A block listed in the published map is normally only parked when freed
//! (publish.zig): a process killed before its own handover must find every
//! listed block intact. When the caller guarantees that nothing in the
//! published image references a block any more (a preserved map's segment
//! once the map's directory no longer names it), `freeUnreferenced` turns
//! the block's entry into a tombstone with one aligned 8-byte store
//! (`npages` = 0, memmap.zig) and frees the block: a process killed after
//! that store leaves the block unlisted and unreferenced, and the next
//! opener finds it free. `attach` takes a tombstone's slot before it
//! appends (writing `pa` first, then publishing `npages`), so the map never
//! holds more entries than the most blocks listed at once.
//!
//! Finding a block's entry takes an index from page to the map block that
//! lists it. It is built by the first removal (one pass over the map), not
//! at open, and kept in step by `attach` and removals; a handover or a
//! discard, which replace or unpublish the map, forget it.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const anon = @import("anon.zig");
const memmap = @import("memmap.zig");
const journal = @import("journal.zig");
const buddy_mod = @import("buddy.zig");
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;

/// Marks, in the index, a page that is a block of the map itself.
const MAP_BLOCK: u32 = 1 << 31;

comptime {
    // Page numbers leave the MAP_BLOCK bit free.
    std.debug.assert(buddy_mod.MAX_PAGES <= MAP_BLOCK);
}

/// What the arena knows of the published map's entries beyond `listed`.
pub const Listing = struct {
    /// Page -> page of the map block holding its entry (0: none), with
    /// MAP_BLOCK set on the map's own blocks. Empty until first needed.
    where: []u32 = &.{},
    /// Byte offsets in the arena of the published map's tombstones, the
    /// slots `attach` takes first.
    vacant: std.ArrayListUnmanaged(u64) = .{},

    pub fn deinit(self: *Listing, gpa: std.mem.Allocator) void {
        self.forget();
        self.vacant.deinit(gpa);
    }

    /// The published map was replaced (a handover) or unpublished: nothing
    /// known of it holds any more.
    pub fn forget(self: *Listing) void {
        if (self.where.len > 0) anon.unmap(self.where);
        self.where = &.{};
        self.vacant.clearRetainingCapacity();
    }

    /// A tombstone the loader found in the published map.
    pub fn addVacant(self: *Listing, gpa: std.mem.Allocator, entry_off: u64) Err!void {
        self.vacant.append(gpa, entry_off) catch return Err.NoMemory;
    }

    /// `attach` wrote the entry of `page` into the map block at page `block`
    /// (`page` == `block`: a new map block listing itself).
    pub fn noteEntry(self: *Listing, page: u32, block: u32) void {
        if (self.where.len == 0) return;
        self.where[page] = block | if (page == block) MAP_BLOCK else 0;
    }
};

/// Frees the block at `pa` now, even when the published map lists it: the
/// caller guarantees that nothing in the published image references it
/// any more. A listed block's entry becomes a tombstone first. Busy for the
/// map's own blocks and the published root; otherwise the checks of
/// `free`. Io (SYNC only) when the tombstone could not be flushed: the
/// block is then parked as `free` would, for a host crash may bring the
/// entry back.
pub fn freeUnreferenced(a: *Arena, pa: u64) Err!void {
    try a.writable();
    const page = try a.releasableHead(pa);
    if (!a.listed.isSet(page)) {
        _ = a.freeValid(page);
        return;
    }
    if (try unlist(a, page) == .not_flushed) {
        a.buddy.deferValid(page);
        errors.append("; 0x{x} is unlisted but parked until the next handover, as a host crash may list it again", .{pa});
        return Err.Io;
    }
    _ = a.freeValid(page);
}

/// Turns the entry of the listed block at `page` into a tombstone (the one
/// publishing store); the block stays allocated to the caller.
fn unlist(a: *Arena, page: u32) Err!journal.Outcome {
    std.debug.assert(a.listed.isSet(page) and a.source != .none);
    const l = &a.listing;
    try build(a);
    const pa = Arena.paOf(page);
    const where = l.where[page];
    if (where & MAP_BLOCK != 0) {
        return errors.fail(Err.Busy, "0x{x} is a block of the published preserved-memory map itself", .{pa});
    }
    if (pa == journal.published(a).fdt_pa) {
        return errors.fail(Err.Busy, "0x{x} is the published root (the header's fdt_pa)", .{pa});
    }
    const entry = try entryOf(a, where, pa);
    l.vacant.ensureUnusedCapacity(a.gpa, 1) catch return Err.NoMemory;
    @atomicStore(u64, a.wordAt(@intCast(entry + memmap.ENTRY_NPAGES)), memmap.TOMBSTONE, .seq_cst); // the unlisting store
    l.vacant.appendAssumeCapacity(entry);
    l.where[page] = 0;
    a.listed.unset(page);
    a.sync(entry, memmap.ENTRY_SIZE) catch return .not_flushed;
    return .flushed;
}

/// Byte offset of the entry listing `pa` in the map block at page `block`.
/// The map is in the arena, which the process can write: what is found
/// there is checked, and an entry that went missing is Corrupt.
fn entryOf(a: *const Arena, block: u32, pa: u64) Err!u64 {
    if (block == 0) return errors.fail(Err.Corrupt, "preserved-memory map: no entry lists 0x{x} any more", .{pa});
    const off = @as(u64, block) * PAGE_SIZE;
    const count = try countOf(a, block);
    var i: u64 = 0;
    while (i < count) : (i += 1) {
        const e = memmap.entryOffset(off, i);
        if (a.phys().readU64(e + memmap.ENTRY_PA) == pa and a.phys().readU64(e + memmap.ENTRY_NPAGES) != memmap.TOMBSTONE) return e;
    }
    return errors.fail(Err.Corrupt, "preserved-memory map: its block at 0x{x} no longer lists 0x{x}", .{ Arena.paOf(block), pa });
}

/// The entry count of the published map block at page `block`, checked.
fn countOf(a: *const Arena, block: u32) Err!u64 {
    const count = a.phys().readU64(@as(u64, block) * PAGE_SIZE + memmap.BLOCK_COUNT);
    if (count == 0 or count > memmap.ENTRIES_PER_BLOCK) {
        return errors.fail(Err.Corrupt, "preserved-memory map: its block at 0x{x} has count {d} now, want 1..{d}", .{ Arena.paOf(block), count, memmap.ENTRIES_PER_BLOCK });
    }
    return count;
}

/// Builds the index of the published map (once): one pass over its entries.
fn build(a: *Arena) Err!void {
    const l = &a.listing;
    if (l.where.len > 0) return;
    const where = try anon.zeroed(u32, a.buddy.npages);
    errdefer anon.unmap(where);
    const map = a.publishedMap().items;
    for (map) |block| {
        const off = @as(u64, block) * PAGE_SIZE;
        const count = try countOf(a, block);
        var i: u64 = 0;
        while (i < count) : (i += 1) {
            const e = memmap.entryOffset(off, i);
            if (a.phys().readU64(e + memmap.ENTRY_NPAGES) == memmap.TOMBSTONE) continue;
            const pa = a.phys().readU64(e);
            const page = a.pageOf(pa) catch
                return errors.fail(Err.Corrupt, "preserved-memory map: its block at 0x{x} lists 0x{x} now, not a page of the arena", .{ Arena.paOf(block), pa });
            where[page] = block;
        }
    }
    for (map) |block| where[block] |= MAP_BLOCK;
    l.where = where;
}
