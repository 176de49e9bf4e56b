//! Unit tests of listing.zig: freeing a listed block now (a tombstone in
//! the published map), the slot reused by attach, tombstones across a
//! crash, the refusals, and the handover count at its maximum.

const std = @import("std");
const testing = std.testing;
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Flags = arena_mod.Flags;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const memmap = @import("memmap.zig");
const Hdr = @import("header.zig").Hdr;
const TestDir = @import("test_dir.zig").TestDir;

/// A first generation handing over a 1-page root and `n` 1-page blocks; returns the root.
fn firstGeneration(path: []const u8, pages: u64, n: usize, blocks: []u64) !u64 {
    const a = try Arena.create(testing.allocator, path, pages * PAGE_SIZE, 0);
    defer a.close();
    for (blocks[0..n]) |*pa| pa.* = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    return root;
}

/// Entries of the published map: listed regions and tombstones.
const Census = struct {
    listed: u64 = 0,
    tombstones: u64 = 0,
    blocks: u64 = 0,
    seen: [64]u64 = undefined,

    pub fn onBlock(self: *Census, off: u64) Err!void {
        for (self.seen[0..self.blocks]) |s| if (s == off) return Err.Corrupt;
        self.seen[self.blocks] = off;
        self.blocks += 1;
    }
    pub fn onEntry(self: *Census, off: u64, pa: u64, npages: u64) Err!void {
        _ = off;
        _ = pa;
        if (npages == memmap.TOMBSTONE) self.tombstones += 1 else self.listed += 1;
    }
};

fn census(a: *const Arena) !Census {
    var c = Census{};
    try memmap.walk(a.phys(), a.phys().readU64(Hdr.mem_map_pa), 64, &c);
    return c;
}

test "freeUnreferenced: a listed block is free at once, and unlisted for the next opener" {
    var t = TestDir{};
    const path = try t.init("unlist");
    defer t.deinit();
    var blocks: [3]u64 = undefined;
    const root = try firstGeneration(path, 64, 3, &blocks);
    {
        const b = try Arena.open(testing.allocator, path, 0);
        defer b.close();
        // The index is built by the first removal, not at open.
        try testing.expectEqual(@as(usize, 0), b.listing.where.len);
        _ = try b.restore(blocks[1]);
        const free_before = b.info().free_pages;
        try b.freeUnreferenced(blocks[1]);
        try testing.expect(b.listing.where.len > 0);
        try testing.expectEqual(free_before + 1, b.info().free_pages);
        try testing.expectEqual(@as(u64, 0), b.info().deferred_pages);
        // Unclaimed blocks can go the same way.
        try b.freeUnreferenced(blocks[2]);
        try testing.expectEqual(@as(u64, 2), (try census(b)).tombstones);
        try testing.expectError(Err.Invalid, b.freeUnreferenced(blocks[1]));
        // The successor dies here: no handover.
    }
    const c = try Arena.open(testing.allocator, path, 0);
    defer c.close();
    try testing.expectEqual(root, c.incoming_fdt_pa);
    try testing.expectEqual(@as(u64, 2), c.info().handed_over_blocks); // root, blocks[0]
    try testing.expectError(Err.Invalid, c.restore(blocks[1])); // free, not handed over
    try testing.expectError(Err.Invalid, c.restore(blocks[2]));
    try testing.expectEqual(@as(u64, 1), try c.restore(blocks[0]));
    try testing.expectEqual(@as(usize, 2), c.listing.vacant.items.len);
}

test "attach takes a tombstone's slot before it appends: the map never grows past the most blocks listed" {
    var t = TestDir{};
    const path = try t.init("reuse");
    defer t.deinit();
    var none: [0]u64 = .{};
    _ = try firstGeneration(path, 2048, 0, &none);
    var kept: [8]u64 = undefined;
    {
        const b = try Arena.open(testing.allocator, path, 0);
        defer b.close();
        var live: [300]u64 = undefined;
        // 300 attached: a second map block.
        for (&live) |*pa| {
            pa.* = (try b.alloc(PAGE_SIZE, 0)).pa;
            try b.attach(pa.*);
        }
        try testing.expectEqual(@as(usize, 2), b.incoming_map.items.len);
        // Then many rounds of one block replaced by another.
        var round: usize = 0;
        while (round < 5000) : (round += 1) {
            const k = round % live.len;
            try b.freeUnreferenced(live[k]);
            live[k] = (try b.alloc(PAGE_SIZE, 0)).pa;
            try b.attach(live[k]);
        }
        try testing.expectEqual(@as(usize, 2), b.incoming_map.items.len);
        const c = try census(b);
        try testing.expectEqual(@as(u64, 0), c.tombstones);
        try testing.expectEqual(@as(u64, 2 + 1 + 300), c.listed); // map blocks, root, blocks
        @memcpy(&kept, live[0..8]);
        for (live[8..]) |pa| try b.freeUnreferenced(pa);
    }
    const c = try Arena.open(testing.allocator, path, 0);
    defer c.close();
    try testing.expectEqual(@as(u64, 1 + 8), c.info().handed_over_blocks);
    for (kept) |pa| try testing.expectEqual(@as(u64, 1), try c.restore(pa));
    // The tombstones a crashed successor left are reused by the next one.
    try testing.expectEqual(@as(usize, 292), c.listing.vacant.items.len);
    const x = (try c.alloc(PAGE_SIZE, 0)).pa;
    try c.attach(x);
    try testing.expectEqual(@as(usize, 291), c.listing.vacant.items.len);
    try testing.expectEqual(@as(usize, 2), c.incoming_map.items.len);
}

test "freeUnreferenced refuses the map's own blocks, the root, preserved, freed and non-head pages" {
    var t = TestDir{};
    const path = try t.init("unlist-refused");
    defer t.deinit();
    var blocks: [1]u64 = undefined;
    const root = try firstGeneration(path, 64, 1, &blocks);
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    const map_pa = PHYS_BASE + @as(u64, b.incoming_map.items[0]) * PAGE_SIZE;
    try testing.expectError(Err.Busy, b.freeUnreferenced(map_pa));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "preserved-memory map itself") != null);
    try testing.expectError(Err.Busy, b.freeUnreferenced(root));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "published root") != null);
    const x = (try b.allocPreserve(2 * PAGE_SIZE, 0)).pa;
    try testing.expectError(Err.Busy, b.freeUnreferenced(x));
    try testing.expectError(Err.Invalid, b.freeUnreferenced(x + PAGE_SIZE));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "inside a block") != null);
    _ = try b.restore(blocks[0]);
    try b.free(blocks[0]); // parked
    try testing.expectError(Err.Invalid, b.freeUnreferenced(blocks[0]));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "freed already") != null);
    // A block nobody lists is simply freed.
    const y = (try b.alloc(PAGE_SIZE, 0)).pa;
    try b.freeUnreferenced(y);
    try testing.expectError(Err.Invalid, b.freeUnreferenced(y));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "it is free") != null);
    const ro = try Arena.open(testing.allocator, path, Flags.READ_ONLY);
    defer ro.close();
    try testing.expectError(Err.NotPermitted, ro.freeUnreferenced(root));
}

test "freeUnreferenced on our own published map; a handover forgets the index" {
    var t = TestDir{};
    const path = try t.init("unlist-own");
    defer t.deinit();
    {
        const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
        defer a.close();
        const x = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
        const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
        try a.handover(root);
        try a.unpreserve(x, PAGE_SIZE);
        try a.freeUnreferenced(x);
        try testing.expectEqual(@as(u64, 1), (try census(a)).tombstones);
        try testing.expect(a.listing.where.len > 0);
        try a.handover(root);
        try testing.expectEqual(@as(usize, 0), a.listing.where.len);
        try testing.expectEqual(@as(usize, 0), a.listing.vacant.items.len);
        try testing.expectEqual(@as(u64, 0), (try census(a)).tombstones);
    }
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    try testing.expectEqual(@as(u64, 1), b.info().handed_over_blocks);
}

test "a tombstone that cannot be flushed (SYNC) parks the block, unlisted" {
    var t = TestDir{};
    const path = try t.init("unlist-sync");
    defer t.deinit();
    var blocks: [1]u64 = undefined;
    _ = try firstGeneration(path, 64, 1, &blocks);
    const b = try Arena.open(testing.allocator, path, Flags.SYNC);
    defer b.close();
    _ = try b.restore(blocks[0]);
    b.sync_fail_at = b.syncs + 1;
    try testing.expectError(Err.Io, b.freeUnreferenced(blocks[0]));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "parked") != null);
    try testing.expectEqual(@as(u64, 1), b.info().deferred_pages);
    try testing.expect(!b.listed.isSet(@intCast((blocks[0] - PHYS_BASE) / PAGE_SIZE)));
    try b.handover(0);
    try testing.expectEqual(@as(u64, 0), b.info().deferred_pages);
}

test "a handover count at its maximum is EOVERFLOW, not a wrap or a panic; nothing changes" {
    var t = TestDir{};
    const path = try t.init("handovers-max");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    a.phys().writeU64(Hdr.handovers, std.math.maxInt(u64));
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    const before = a.info();
    try testing.expectError(Err.Overflow, a.handover(root));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "18446744073709551615") != null);
    const after = a.info();
    try testing.expectEqual(before.free_pages, after.free_pages);
    try testing.expectEqual(before.preserved_blocks, after.preserved_blocks);
    try testing.expectEqual(@as(u64, 0), a.phys().readU64(Hdr.fdt_pa));
}
