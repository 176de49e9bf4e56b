//! A successor's allocator rebuilt from the published preserved-memory map:
//! every listed block is held (handed over) until restored, the map's own
//! blocks are claimed at once, everything else is free (tombstones, entries
//! with 0 pages, list nothing: their slots are noted for reuse). Each map block and
//! each page is visited once: cycles and overlaps are found with bitsets,
//! not by searching lists.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const memmap = @import("memmap.zig");
const journal = @import("journal.zig");
const bits = @import("bits.zig");
const buddy_mod = @import("buddy.zig");
const Buddy = buddy_mod.Buddy;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Flags = arena_mod.Flags;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const paOf = Arena.paOf;

const BitSet = std.DynamicBitSetUnmanaged;

const MapLoader = struct {
    arena: *Arena,
    /// Pages covered by an entry so far.
    covered: BitSet,
    /// Map blocks seen so far (a second visit is a cycle).
    seen: BitSet,
    blocks: *std.ArrayListUnmanaged(u32),

    pub fn onBlock(self: *MapLoader, off: u64) Err!void {
        const page: u32 = @intCast(off / PAGE_SIZE);
        if (self.seen.isSet(page)) {
            return errors.fail(Err.Corrupt, "preserved-memory map: cycle back to the block at 0x{x}", .{paOf(page)});
        }
        self.seen.set(page);
        self.blocks.append(self.arena.gpa, page) catch return Err.NoMemory;
    }

    pub fn onEntry(self: *MapLoader, entry_off: u64, pa: u64, npages: u64) Err!void {
        const a = self.arena;
        // A tombstone: a block removed from the map (listing.zig); its slot is reused first.
        if (npages == memmap.TOMBSTONE) return a.listing.addVacant(a.gpa, entry_off);
        if (pa < PHYS_BASE or (pa - PHYS_BASE) % PAGE_SIZE != 0) {
            return errors.fail(Err.Corrupt, "preserved-memory map: region 0x{x} is not a page address", .{pa});
        }
        if (!std.math.isPowerOfTwo(npages) or npages > Buddy.pagesOf(buddy_mod.MAX_ORDER)) {
            return errors.fail(Err.Corrupt, "preserved-memory map: region 0x{x} has {d} pages, not a power of two", .{ pa, npages });
        }
        const first = (pa - PHYS_BASE) / PAGE_SIZE;
        if (first == 0 or first % npages != 0 or first >= a.buddy.npages or npages > a.buddy.npages - first) {
            return errors.fail(Err.Corrupt, "preserved-memory map: region 0x{x} of {d} pages is outside the arena or unaligned", .{ pa, npages });
        }
        const start: usize = @intCast(first);
        const n: usize = @intCast(npages);
        if (bits.anySet(&self.covered, start, n)) {
            return errors.fail(Err.Corrupt, "preserved-memory map: region 0x{x} of {d} pages overlaps another", .{ pa, npages });
        }
        self.covered.setRangeValue(.{ .start = start, .end = start + n }, true);
        a.buddy.setBlock(@intCast(first), @intCast(std.math.log2_int(u64, npages)), .handed_over);
        a.listed.set(start);
    }
};

/// Reads the published map into the allocator (rolling a pending header
/// record forward first, unless read-only). A damaged map is Corrupt,
/// naming what and where.
pub fn rebuild(a: *Arena) Err!void {
    if (a.flags & Flags.READ_ONLY == 0 and journal.apply(a) == .not_flushed) {
        errors.append("; while rolling the header journal forward", .{});
        return Err.Io;
    }
    const published = journal.published(a);
    const fdt_pa = published.fdt_pa;
    if (fdt_pa == 0) return;
    var loader = MapLoader{
        .arena = a,
        .covered = BitSet.initEmpty(a.gpa, a.buddy.npages) catch return Err.NoMemory,
        .seen = undefined,
        .blocks = &a.incoming_map,
    };
    defer loader.covered.deinit(a.gpa);
    loader.seen = BitSet.initEmpty(a.gpa, a.buddy.npages) catch return Err.NoMemory;
    defer loader.seen.deinit(a.gpa);
    try memmap.walk(a.phys(), published.mem_map_pa, a.buddy.npages, &loader);
    // Every map block and the FDT must be handed-over blocks themselves.
    for (a.incoming_map.items) |page| {
        _ = a.buddy.head(page, .handed_over) catch
            return errors.fail(Err.Corrupt, "preserved-memory map: its block at 0x{x} is not listed in it", .{paOf(page)});
    }
    if (fdt_pa < PHYS_BASE or (fdt_pa - PHYS_BASE) % PAGE_SIZE != 0) {
        return errors.fail(Err.Corrupt, "header: fdt_pa 0x{x} is not a page address", .{fdt_pa});
    }
    _ = a.buddy.head((fdt_pa - PHYS_BASE) / PAGE_SIZE, .handed_over) catch
        return errors.fail(Err.Corrupt, "header: fdt_pa 0x{x} is not a preserved block", .{fdt_pa});
    if (a.flags & Flags.READ_ONLY == 0) {
        for (a.incoming_map.items) |page| a.buddy.claim(page);
    }
    a.incoming_fdt_pa = fdt_pa;
    a.source = .incoming;
}

/// Every page not in a block yet becomes free (and poisoned in poison mode).
/// One pass: blocks are hopped over, runs of uncovered pages carved once.
pub fn freeUncovered(a: *Arena) void {
    const b = &a.buddy;
    const poison = a.flags & Flags.POISON != 0 and a.flags & Flags.READ_ONLY == 0;
    var i: u64 = 1;
    while (i < b.npages) {
        if (b.state[@intCast(i)] != .tail) {
            i += Buddy.pagesOf(b.order[@intCast(i)]);
            continue;
        }
        const start = i;
        while (i < b.npages and b.state[@intCast(i)] == .tail) : (i += 1) {}
        b.addFreeRange(@intCast(start), @intCast(i - start));
        if (poison) @memset(a.mem[@intCast(start * PAGE_SIZE)..@intCast(i * PAGE_SIZE)], arena_mod.POISON_BYTE);
    }
}
