//! Unit tests of publish.zig: attach, discard, and the one-pass drop.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Flags = arena_mod.Flags;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const TestDir = @import("test_dir.zig").TestDir;

/// A first generation: `a` hands over a 1-page root; returns the root's pa.
fn firstGeneration(path: []const u8, pages: u64) !u64 {
    const a = try Arena.create(testing.allocator, path, pages * PAGE_SIZE, 0);
    defer a.close();
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    return root;
}

test "attach: a block a successor attached is handed over to the next opener, contents included" {
    var t = TestDir{};
    const path = try t.init("attach");
    defer t.deinit();
    const root = try firstGeneration(path, 64);
    const b = try Arena.open(testing.allocator, path, 0);
    const x = (try b.alloc(2 * PAGE_SIZE, 0)).pa;
    @memset(b.mem[@intCast(x - PHYS_BASE)..][0 .. 2 * PAGE_SIZE], 0x5a);
    try b.attach(x);
    try testing.expectError(Err.Exists, b.attach(x));
    // The successor dies here: no handover, no unpublish.
    b.close();
    const c = try Arena.open(testing.allocator, path, 0);
    defer c.close();
    try testing.expectEqual(root, c.incoming_fdt_pa);
    // Root and x (a writable open claims the map blocks at once).
    try testing.expectEqual(@as(u64, 2), c.info().handed_over_blocks);
    try testing.expectEqual(@as(u64, 2), try c.restore(x));
    try testing.expectEqual(@as(u8, 0x5a), c.mem[@intCast(x - PHYS_BASE + 2 * PAGE_SIZE - 1)]);
}

test "attach: past a full map block, a new last block lists itself and the block" {
    var t = TestDir{};
    const path = try t.init("attach-many");
    defer t.deinit();
    _ = try firstGeneration(path, 1024);
    const n = 600; // the first map block holds 2 entries (root, itself): 3 blocks after
    var pas: [n]u64 = undefined;
    {
        const b = try Arena.open(testing.allocator, path, 0);
        defer b.close();
        for (&pas, 0..) |*pa, i| {
            pa.* = (try b.alloc(1, 0)).pa;
            b.mem[@intCast(pa.* - PHYS_BASE)] = @truncate(i);
            try b.attach(pa.*);
        }
        try testing.expectEqual(@as(usize, 3), b.incoming_map.items.len);
    }
    const c = try Arena.open(testing.allocator, path, 0);
    defer c.close();
    try testing.expectEqual(@as(u64, 1 + n), c.info().handed_over_blocks);
    try testing.expectEqual(@as(usize, 3), c.incoming_map.items.len);
    for (pas, 0..) |pa, i| {
        try testing.expectEqual(@as(u64, 1), try c.restore(pa));
        try testing.expectEqual(@as(u8, @truncate(i)), c.mem[@intCast(pa - PHYS_BASE)]);
    }
}

test "attach: refused when nothing is published, for listed, free or read-only blocks; a freed one is parked" {
    var t = TestDir{};
    const path = try t.init("attach-errors");
    defer t.deinit();
    {
        const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
        defer a.close();
        const x = (try a.alloc(1, 0)).pa;
        try testing.expectError(Err.NotFound, a.attach(x));
        const root = (try a.allocPreserve(1, 0)).pa;
        try a.handover(root);
        // Our own image is the published one now: it grows too.
        try a.attach(x);
        try testing.expectError(Err.Exists, a.attach(root));
    }
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    try testing.expectEqual(@as(u64, 2), b.info().handed_over_blocks);
    const y = (try b.alloc(1, 0)).pa;
    try testing.expectError(Err.Invalid, b.attach(y + PAGE_SIZE)); // a free page
    try b.attach(y);
    const free_before = b.info().free_pages;
    try b.free(y);
    try testing.expectEqual(free_before, b.info().free_pages);
    try testing.expectEqual(@as(u64, 1), b.info().deferred_pages);
    const ro = try Arena.open(testing.allocator, path, Flags.READ_ONLY);
    defer ro.close();
    try testing.expectError(Err.NotPermitted, ro.attach(y));
}

test "discard: unclaimed blocks are freed, the image unpublished, the handover count kept" {
    var t = TestDir{};
    const path = try t.init("discard");
    defer t.deinit();
    _ = try firstGeneration(path, 64);
    {
        const b = try Arena.open(testing.allocator, path, 0);
        defer b.close();
        try testing.expectEqual(@as(u64, 1), b.info().handed_over_blocks);
        try b.discardIncoming();
        try testing.expectEqual(@as(u64, 0), b.info().handed_over_blocks);
        try testing.expectEqual(@as(u64, 63), b.info().free_pages);
        try testing.expectError(Err.NotFound, b.discardIncoming());
        try testing.expectError(Err.NotFound, b.attach((try b.alloc(1, 0)).pa));
    }
    const c = try Arena.open(testing.allocator, path, 0);
    defer c.close();
    try testing.expectEqual(@as(u64, 0), c.incoming_fdt_pa);
    try testing.expectEqual(@as(u64, 1), c.info().handovers);
    try testing.expectEqual(@as(u64, 63), c.info().free_pages);
}

test "finishing: blocks freed between kept ones are dropped in one pass (work counted, not timed)" {
    var t = TestDir{};
    const path = try t.init("one-pass");
    defer t.deinit();
    const n = 2000;
    var pas: [n]u64 = undefined;
    {
        const a = try Arena.create(testing.allocator, path, 4096 * PAGE_SIZE, 0);
        defer a.close();
        for (&pas) |*pa| pa.* = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
        try a.handover(pas[0]);
    }
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    // Keep every other block (a successor keeping its retrieved files),
    // free the rest: they stay deferred until the handover below.
    for (pas, 0..) |pa, i| {
        _ = try b.restore(pa);
        if (i % 2 == 1) try b.restoreFree(pa);
    }
    try testing.expectEqual(@as(u64, n / 2), b.info().deferred_pages);
    const before = b.buddy.visits;
    try b.handover(0); // no map to write: the scans are the drop's
    const visits = b.buddy.visits - before;
    try testing.expectEqual(@as(u64, 0), b.info().deferred_pages);
    // Each block once, and a few free blocks past the end. A rescan from the
    // start after every freed block would be about n * n / 4 (a million).
    try testing.expect(visits <= n + 64);
}
