//! The preserved-memory map: a chain of 4096-byte blocks, each
//! `{ u64 next; u64 count; }` then `count` entries `{ u64 pa; u64 npages; }`.
//! An entry whose `npages` is 0 is a tombstone: a block removed from the
//! published map (listing.zig) whose slot a later entry may take; readers
//! skip it and ignore its `pa`. This file only knows the layout and how to
//! walk and fill it; the arena decides what the entries mean.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;

pub const PAGE_SIZE: u64 = 4096;
pub const HEADER_SIZE: u64 = 16;
pub const ENTRY_SIZE: u64 = 16;
/// Offsets in a block's header: the next block's address, the entry count.
pub const BLOCK_NEXT: u64 = 0;
pub const BLOCK_COUNT: u64 = 8;
/// Offsets in an entry: the region's address, its page count.
pub const ENTRY_PA: u64 = 0;
pub const ENTRY_NPAGES: u64 = 8;
/// (4096 - 16) / 16
pub const ENTRIES_PER_BLOCK: u64 = (PAGE_SIZE - HEADER_SIZE) / ENTRY_SIZE;

comptime {
    std.debug.assert(ENTRIES_PER_BLOCK == 255);
}

/// Physical-address view of the arena's bytes.
pub const Phys = struct {
    mem: []u8,
    base: u64,

    /// File offset of `pa` when [pa, pa+len) is inside the arena, else Corrupt.
    pub fn offset(self: Phys, pa: u64, len: u64) Err!u64 {
        if (pa < self.base) return errors.fail(Err.Corrupt, "address 0x{x} is below the arena", .{pa});
        const off = pa - self.base;
        if (off >= self.mem.len or len > self.mem.len - off) {
            return errors.fail(Err.Corrupt, "range 0x{x}+{d} is outside the arena", .{ pa, len });
        }
        return off;
    }

    pub fn readU64(self: Phys, off: u64) u64 {
        return std.mem.readInt(u64, self.mem[@intCast(off)..][0..8], .little);
    }

    pub fn writeU64(self: Phys, off: u64, v: u64) void {
        std.mem.writeInt(u64, self.mem[@intCast(off)..][0..8], v, .little);
    }
};

/// Walks the chain from `first_pa`, calling `ctx.onBlock(off)` for every
/// block and `ctx.onEntry(entry_off, pa, npages)` for every entry (tombstones
/// included: `npages` 0), `entry_off` being the entry's byte offset in the
/// arena. At most `max_blocks`
/// blocks are visited; `ctx.onBlock` must reject a block it has seen (cycle).
pub fn walk(phys: Phys, first_pa: u64, max_blocks: u64, ctx: anytype) Err!void {
    var pa = first_pa;
    var blocks: u64 = 0;
    while (pa != 0) : (blocks += 1) {
        if (blocks >= max_blocks) return errors.fail(Err.Corrupt, "preserved-memory map: more than {d} blocks", .{max_blocks});
        if (pa < phys.base or (pa - phys.base) % PAGE_SIZE != 0) {
            return errors.fail(Err.Corrupt, "preserved-memory map: block {d} at 0x{x} is not page-aligned", .{ blocks, pa });
        }
        const off = try phys.offset(pa, PAGE_SIZE);
        try ctx.onBlock(off);
        const count = phys.readU64(off + BLOCK_COUNT);
        if (count == 0 or count > ENTRIES_PER_BLOCK) {
            return errors.fail(Err.Corrupt, "preserved-memory map: block {d} at 0x{x} has count {d}, want 1..{d}", .{ blocks, pa, count, ENTRIES_PER_BLOCK });
        }
        var i: u64 = 0;
        while (i < count) : (i += 1) {
            const e = entryOffset(off, i);
            try ctx.onEntry(e, phys.readU64(e + ENTRY_PA), phys.readU64(e + ENTRY_NPAGES));
        }
        pa = phys.readU64(off + BLOCK_NEXT);
    }
}

/// One entry: a preserved region.
pub const Entry = struct { pa: u64, npages: u64 };

/// The `npages` of a tombstone.
pub const TOMBSTONE: u64 = 0;

/// Byte offset in the arena of entry `index` of the map block at byte offset `block`.
pub fn entryOffset(block: u64, index: u64) u64 {
    std.debug.assert(index < ENTRIES_PER_BLOCK);
    return block + HEADER_SIZE + index * ENTRY_SIZE;
}

/// Writes entry `index` of the map block at byte offset `block`.
pub fn writeEntry(phys: Phys, block: u64, index: u64, e: Entry) void {
    const off = entryOffset(block, index);
    phys.writeU64(off + ENTRY_PA, e.pa);
    phys.writeU64(off + ENTRY_NPAGES, e.npages);
}

/// Fills block pages with entries, in order. `blocks` holds the page
/// numbers of the blocks to fill, as many as `blocksNeeded` says for the
/// entries the caller adds: they never run out and none stays empty.
pub const Writer = struct {
    phys: Phys,
    blocks: []const u32,
    block: usize = 0,
    count: u64 = 0,

    pub fn add(self: *Writer, pa: u64, npages: u64) void {
        std.debug.assert(self.block < self.blocks.len);
        const off = @as(u64, self.blocks[self.block]) * PAGE_SIZE;
        if (self.count == 0) @memset(self.phys.mem[@intCast(off)..][0..PAGE_SIZE], 0);
        writeEntry(self.phys, off, self.count, .{ .pa = pa, .npages = npages });
        self.count += 1;
        self.phys.writeU64(off + BLOCK_COUNT, self.count);
        if (self.count == ENTRIES_PER_BLOCK) {
            self.block += 1;
            self.count = 0;
        }
    }

    /// Links the blocks.
    pub fn finish(self: *Writer) void {
        std.debug.assert(self.block + @intFromBool(self.count > 0) == self.blocks.len);
        for (self.blocks, 0..) |page, i| {
            const next = if (i + 1 < self.blocks.len) self.phys.base + @as(u64, self.blocks[i + 1]) * PAGE_SIZE else 0;
            self.phys.writeU64(@as(u64, page) * PAGE_SIZE + BLOCK_NEXT, next);
        }
    }
};

/// Number of map blocks needed for `regions` preserved regions when the map
/// blocks themselves are listed too.
pub fn blocksNeeded(regions: u64) u64 {
    if (regions == 0) return 0;
    // m blocks hold 255*m entries and must list regions + m of them:
    // m = ceil(regions / 254).
    return (regions + ENTRIES_PER_BLOCK - 2) / (ENTRIES_PER_BLOCK - 1);
}

const testing = std.testing;

const Collect = struct {
    seen: std.AutoHashMap(u64, void),
    entries: u64 = 0,
    pub fn onBlock(self: *Collect, off: u64) Err!void {
        const got = self.seen.getOrPut(off) catch return Err.NoMemory;
        if (got.found_existing) return Err.Corrupt;
    }
    pub fn onEntry(self: *Collect, off: u64, pa: u64, npages: u64) Err!void {
        _ = off;
        _ = pa;
        _ = npages;
        self.entries += 1;
    }
};

test "blocksNeeded covers the map's own blocks" {
    try testing.expectEqual(@as(u64, 0), blocksNeeded(0));
    try testing.expectEqual(@as(u64, 1), blocksNeeded(1));
    try testing.expectEqual(@as(u64, 1), blocksNeeded(254));
    try testing.expectEqual(@as(u64, 2), blocksNeeded(255));
    var r: u64 = 1;
    while (r < 5000) : (r += 37) {
        const m = blocksNeeded(r);
        try testing.expect(m * ENTRIES_PER_BLOCK >= r + m);
        try testing.expect((m - 1) * ENTRIES_PER_BLOCK < r + m - 1);
    }
}

test "write then walk returns every entry; a cycle is caught" {
    var mem = [_]u8{0} ** (PAGE_SIZE * 4);
    const phys = Phys{ .mem = &mem, .base = 0x1000_0000 };
    const blocks = [_]u32{ 1, 3 };
    var w = Writer{ .phys = phys, .blocks = &blocks };
    var i: u64 = 0;
    while (i < 300) : (i += 1) w.add(phys.base + i * PAGE_SIZE, 1);
    w.finish();
    var c = Collect{ .seen = std.AutoHashMap(u64, void).init(testing.allocator) };
    defer c.seen.deinit();
    try walk(phys, phys.base + PAGE_SIZE, 16, &c);
    try testing.expectEqual(@as(u64, 300), c.entries);
    // Point the second block back at the first.
    phys.writeU64(PAGE_SIZE * 3, phys.base + PAGE_SIZE);
    c.seen.clearRetainingCapacity();
    try testing.expectError(Err.Corrupt, walk(phys, phys.base + PAGE_SIZE, 16, &c));
    // A zero count is corrupt, and so is an address outside the arena.
    phys.writeU64(PAGE_SIZE + BLOCK_COUNT, 0);
    c.seen.clearRetainingCapacity();
    try testing.expectError(Err.Corrupt, walk(phys, phys.base + PAGE_SIZE, 16, &c));
    c.seen.clearRetainingCapacity();
    try testing.expectError(Err.Corrupt, walk(phys, phys.base + PAGE_SIZE * 9, 16, &c));
}
