//! Unit tests of extents.zig, regions.zig and populate.zig.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const extents = @import("extents.zig");
const Extent = extents.Extent;
const regions = @import("regions.zig");
const populate = @import("populate.zig");
const TestDir = @import("test_dir.zig").TestDir;

const MiB = 1 << 20;

fn pagesIn(es: []const Extent) u64 {
    var n: u64 = 0;
    for (es) |e| n += e[1];
    return n;
}

test "a 256 MiB file fits a 320 MiB arena as a few extents, in address order" {
    var t = TestDir{};
    const path = try t.init("extents");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 320 * MiB, arena_mod.Flags.SPARSE);
    defer a.close();
    try testing.expectError(Err.NoMemory, a.alloc(256 * MiB, 0)); // one power-of-two block: no
    var out: [64]Extent = undefined;
    const free = a.info().free_pages;
    const n = try extents.alloc(a, 256 * MiB, 0, &out);
    try testing.expect(n <= 3);
    try testing.expectEqual(@as(u64, 256 * MiB / PAGE_SIZE), pagesIn(out[0..n]));
    try testing.expectEqual(free - 256 * MiB / PAGE_SIZE, a.info().free_pages);
    for (out[1..n], out[0 .. n - 1]) |e, prev| try testing.expect(e[0] > prev[0]);
    // Exactly the pages asked for: 100 bytes take one page, 5 pages take 4 + 1.
    var small: [8]Extent = undefined;
    try testing.expectEqual(@as(usize, 1), try extents.alloc(a, 100, 0, &small));
    try testing.expectEqual(@as(u64, 1), small[0][1]);
    try testing.expectEqual(@as(usize, 2), try extents.alloc(a, 5 * PAGE_SIZE, 0, &small));
    try testing.expectEqual(@as(u64, 5), pagesIn(small[0..2]));
}

test "not enough pages, or not enough extents: ENOMEM with nothing allocated" {
    var t = TestDir{};
    const path = try t.init("extents-nomem");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    // Every other page free: 8 pages need 8 extents of one page.
    var held: [63]u64 = undefined;
    for (&held) |*p| p.* = (try a.alloc(PAGE_SIZE, 0)).pa;
    for (held, 0..) |p, i| if (i % 2 == 0) try a.free(p);
    const free = a.info().free_pages;
    var out: [8]Extent = undefined;
    try testing.expectError(Err.NoMemory, extents.alloc(a, 8 * PAGE_SIZE, 0, out[0..7]));
    try testing.expectEqual(free, a.info().free_pages);
    try testing.expectError(Err.NoMemory, extents.alloc(a, (free + 1) * PAGE_SIZE, 0, &out));
    try testing.expectEqual(@as(usize, 8), try extents.alloc(a, 8 * PAGE_SIZE, arena_mod.AllocFlags.ZERO, &out));
    try testing.expectEqual(free - 8, a.info().free_pages);
    // A failed allocation in the middle (fault injection) takes nothing either.
    a.buddy.fail_at = a.buddy.stats.allocations + 3;
    try testing.expectError(Err.NoMemory, extents.alloc(a, 8 * PAGE_SIZE, 0, &out));
    try testing.expectEqual(free - 8, a.info().free_pages);
    try testing.expectError(Err.Invalid, extents.alloc(a, 0, 0, &out));
    try testing.expectError(Err.Invalid, extents.alloc(a, 1, 2, &out));
}

test "a block that holds them: its first pages, contiguous and exact; freed, it is whole again" {
    var t = TestDir{};
    const path = try t.init("extents-trim");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    const free = a.info().free_pages;
    var out: [8]Extent = undefined;
    // 18 pages from the free block of pages 32..63: 16 + 2 kept, 14 freed again.
    try testing.expectEqual(@as(usize, 2), try extents.alloc(a, 18 * PAGE_SIZE - 100, 0, &out));
    try testing.expectEqual(Extent{ PHYS_BASE + 32 * PAGE_SIZE, 16 }, out[0]);
    try testing.expectEqual(Extent{ PHYS_BASE + 48 * PAGE_SIZE, 2 }, out[1]);
    try testing.expectEqual(free - 18, a.info().free_pages);
    try testing.expectEqual(@as(u64, 18), a.info().allocated_pages);
    var failed: u32 = 0;
    try regions.apply(a, .free, out[0..2], &failed);
    try testing.expectEqual(free, a.info().free_pages);
    try testing.expectEqual(@as(?u8, 5), a.buddy.largestFree()); // merged back into 32 pages
    // With room for one extent only, the whole block.
    try testing.expectEqual(@as(usize, 1), try extents.alloc(a, 18 * PAGE_SIZE, 0, out[0..1]));
    try testing.expectEqual(@as(u64, 32), out[0][1]);
}

test "the last extent is rounded up when the extents would run out" {
    var t = TestDir{};
    const path = try t.init("extents-last");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var one: [1]Extent = undefined;
    try testing.expectEqual(@as(usize, 1), try extents.alloc(a, 3 * PAGE_SIZE, 0, &one));
    try testing.expectEqual(@as(u64, 4), one[0][1]);
    // Free blocks of 4, 4 and 1 pages only: 7 pages in 2 extents take 4 + 4.
    const b = try Arena.create(testing.allocator, try t.path("b.arena"), 64 * PAGE_SIZE, 0);
    defer b.close();
    var held: [63]u64 = undefined;
    for (&held) |*p| p.* = (try b.alloc(PAGE_SIZE, 0)).pa;
    for (held, 1..) |p, page| if ((page >= 8 and page < 12) or (page >= 16 and page < 20) or page == 30) try b.free(p);
    var two: [2]Extent = undefined;
    try testing.expectEqual(@as(usize, 2), try extents.alloc(b, 7 * PAGE_SIZE, 0, &two));
    try testing.expectEqual(@as(u64, 8), pagesIn(&two));
    try testing.expectEqual(@as(u64, 1), b.info().free_pages);
}

test "regions: preserve, unpreserve and free many, all or nothing" {
    var t = TestDir{};
    const path = try t.init("regions");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var es: [3]Extent = undefined;
    _ = try extents.alloc(a, 7 * PAGE_SIZE, 0, &es);
    var failed: u32 = 0;
    try regions.apply(a, .preserve, &es, &failed);
    try testing.expectEqual(@as(u64, 3), a.info().preserved_blocks);
    try regions.apply(a, .unpreserve, &es, &failed);
    const twice = [_]Extent{ es[0], es[1], es[0] };
    try testing.expectError(Err.Exists, regions.apply(a, .preserve, &twice, &failed));
    try testing.expectEqual(@as(u32, 2), failed);
    try testing.expectEqual(@as(u64, 0), a.info().preserved_blocks);
    try regions.apply(a, .preserve, es[0..1], &failed);
    const free = a.info().free_pages;
    try testing.expectError(Err.Busy, regions.apply(a, .free, &es, &failed)); // es[0] is preserved
    try testing.expectEqual(@as(u32, 0), failed);
    try testing.expectError(Err.Invalid, regions.apply(a, .free, &[_]Extent{ es[1], es[1] }, &failed));
    try testing.expectEqual(free, a.info().free_pages);
    try regions.apply(a, .free, es[1..], &failed);
    try testing.expectEqual(free + pagesIn(es[1..]), a.info().free_pages);
}

test "regions: claim after a handover, all checked first; populate; the touch fallback" {
    var t = TestDir{};
    const path = try t.init("regions-claim");
    defer t.deinit();
    var es: [3]Extent = undefined;
    {
        const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
        defer a.close();
        _ = try extents.alloc(a, 7 * PAGE_SIZE, 0, &es);
        var failed: u32 = 0;
        try regions.apply(a, .preserve, &es, &failed);
        a.mem[@intCast(es[2][0] - PHYS_BASE)] = 42;
        try a.handover(es[0][0]);
    }
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    var failed: u32 = 0;
    const before = b.info().handed_over_blocks;
    var big = es;
    big[2][1] += 1; // wants more pages than its block has
    try testing.expectError(Err.Invalid, regions.apply(b, .claim, &big, &failed));
    try testing.expectEqual(@as(u32, 2), failed);
    try testing.expectError(Err.Invalid, regions.apply(b, .claim, &[_]Extent{ es[0], es[0] }, &failed));
    try testing.expectEqual(before, b.info().handed_over_blocks);
    try regions.apply(b, .claim, &es, &failed);
    try testing.expectEqual(before - 3, b.info().handed_over_blocks);
    try regions.apply(b, .populate_read, &es, &failed);
    try regions.apply(b, .populate_write, &es, &failed);
    try testing.expectEqual(@as(u8, 42), b.mem[@intCast(es[2][0] - PHYS_BASE)]);
    try testing.expectError(Err.Invalid, regions.apply(b, .populate_read, &[_]Extent{.{ es[0][0] + 1, 1 }}, &failed));
    try testing.expectError(Err.Invalid, regions.apply(b, .populate_read, &[_]Extent{.{ PHYS_BASE + 63 * PAGE_SIZE, 2 }}, &failed));
    const mem = b.mem[@intCast(es[2][0] - PHYS_BASE)..][0 .. es[2][1] * PAGE_SIZE];
    populate.touch(mem, false);
    populate.touch(mem, true);
    try testing.expectEqual(@as(u8, 42), mem[0]);
}
