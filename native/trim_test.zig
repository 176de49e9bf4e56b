//! Unit tests of trim.zig.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const trim = @import("trim.zig").trim;
const Extent = @import("extents.zig").Extent;
const TestDir = @import("test_dir.zig").TestDir;

test "trim keeps the first pages as the blocks of their count and frees the rest, which merges back" {
    var t = TestDir{};
    const path = try t.init("trim");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 1 << 20, 0);
    defer a.close();
    const free0 = a.info().free_pages;
    const pa = (try a.alloc(64 * PAGE_SIZE, 0)).pa;
    var out: [30]Extent = undefined;
    try testing.expectEqual(@as(usize, 3), try trim(a, pa, 13, &out)); // 8 + 4 + 1
    try testing.expectEqualSlices(Extent, &.{ .{ pa, 8 }, .{ pa + 8 * PAGE_SIZE, 4 }, .{ pa + 12 * PAGE_SIZE, 1 } }, out[0..3]);
    try testing.expectEqual(free0 - 13, a.info().free_pages);
    try testing.expectEqual(@as(u64, 13), a.info().allocated_pages);
    const page: u32 = @intCast((pa - arena_mod.PHYS_BASE) / PAGE_SIZE);
    for ([_][2]u64{ .{ 0, 3 }, .{ 8, 2 }, .{ 12, 0 } }) |b| {
        try testing.expectEqual(.allocated, a.buddy.state[page + b[0]]);
        try testing.expectEqual(@as(u8, @intCast(b[1])), a.buddy.order[page + b[0]]);
    }
    // Freeing the kept blocks gives every page back in one block again.
    try a.free(pa);
    try a.free(pa + 8 * PAGE_SIZE);
    try a.free(pa + 12 * PAGE_SIZE);
    try testing.expectEqual(free0, a.info().free_pages);
    try testing.expectEqual(pa, (try a.alloc(64 * PAGE_SIZE, 0)).pa);
}

test "trim refuses what it cannot split: keep 0 or all, a preserved or free block, a read-only arena" {
    var t = TestDir{};
    const path = try t.init("trim-refusals");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 1 << 20, 0);
    defer a.close();
    const pa = (try a.alloc(4 * PAGE_SIZE, 0)).pa;
    var out: [30]Extent = undefined;
    try testing.expectError(Err.Invalid, trim(a, pa, 0, &out));
    try testing.expectError(Err.Invalid, trim(a, pa, 4, &out));
    try testing.expectError(Err.Invalid, trim(a, pa + PAGE_SIZE, 1, &out));
    try testing.expectError(Err.Invalid, trim(a, pa, 3, out[0..1])); // 2 + 1: no room for both
    try testing.expectEqual(@as(u64, 4), a.info().allocated_pages); // nothing changed
    try a.preserve(pa, 4 * PAGE_SIZE);
    try testing.expectError(Err.Busy, trim(a, pa, 1, &out));
    try a.unpreserve(pa, 4 * PAGE_SIZE);
    _ = try trim(a, pa, 3, &out);
    try testing.expectError(Err.Invalid, trim(a, pa + 3 * PAGE_SIZE, 1, &out)); // freed already
}
