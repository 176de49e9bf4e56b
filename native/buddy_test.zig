//! Unit tests of buddy.zig.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const Buddy = @import("buddy.zig").Buddy;

fn testBuddy(npages: u32) !Buddy {
    var b = try Buddy.init(testing.allocator, npages);
    b.setBlock(0, 0, .reserved);
    b.addFreeRange(1, npages - 1);
    return b;
}

test "orders round up to powers of two" {
    try testing.expectEqual(@as(u8, 0), try Buddy.orderFor(1));
    try testing.expectEqual(@as(u8, 1), try Buddy.orderFor(2));
    try testing.expectEqual(@as(u8, 2), try Buddy.orderFor(3));
    try testing.expectEqual(@as(u8, 10), try Buddy.orderFor(1024));
    try testing.expectError(Err.Invalid, Buddy.orderFor(0));
}

test "blocks are aligned to their order and never overlap" {
    var b = try testBuddy(1024);
    defer b.deinit();
    var seen = [_]bool{false} ** 1024;
    var order: u8 = 0;
    while (order < 6) : (order += 1) {
        const i = try b.alloc(order);
        try testing.expectEqual(@as(u64, 0), i % Buddy.pagesOf(order));
        for (i..i + Buddy.pagesOf(order)) |p| {
            try testing.expect(!seen[p]);
            seen[p] = true;
        }
    }
    try testing.expect(!seen[0]);
}

test "free merges buddies back to the initial free page count" {
    var b = try testBuddy(512);
    defer b.deinit();
    const before = b.stats.free_pages;
    var got: [64]u32 = undefined;
    for (&got, 0..) |*g, n| g.* = try b.alloc(@intCast(n % 3));
    for (got) |g| _ = try b.free(g);
    try testing.expectEqual(before, b.stats.free_pages);
    try testing.expectEqual(@as(u64, 0), b.stats.allocated_pages);
    // After merging, a 256-page block is available again.
    _ = try b.alloc(8);
}

test "exhaustion gives NoMemory and the allocator stays usable" {
    var b = try testBuddy(16);
    defer b.deinit();
    var n: usize = 0;
    while (b.alloc(0)) |_| n += 1 else |e| try testing.expectEqual(Err.NoMemory, e);
    try testing.expectEqual(@as(usize, 15), n);
    _ = try b.free(1);
    try testing.expectEqual(@as(u32, 1), try b.alloc(0));
}

test "double free and free of a tail page are rejected" {
    var b = try testBuddy(64);
    defer b.deinit();
    const i = try b.alloc(2);
    try testing.expectError(Err.Invalid, b.free(i + 1));
    _ = try b.free(i);
    try testing.expectError(Err.Invalid, b.free(i));
}

test "a preserved block cannot be freed until unpreserved" {
    var b = try testBuddy(64);
    defer b.deinit();
    const i = try b.alloc(1);
    try b.setPreserved(i, true);
    try testing.expectError(Err.Exists, b.setPreserved(i, true));
    try testing.expectError(Err.Busy, b.free(i));
    try b.setPreserved(i, false);
    _ = try b.free(i);
}

test "fault injection fails exactly the chosen allocation" {
    var b = try testBuddy(64);
    defer b.deinit();
    b.fail_at = 3;
    _ = try b.alloc(0);
    _ = try b.alloc(0);
    try testing.expectError(Err.NoMemory, b.alloc(0));
    _ = try b.alloc(0);
}

test "a deferred block is out of use until freed for real" {
    var b = try testBuddy(64);
    defer b.deinit();
    const i = try b.alloc(2);
    const before = b.stats.free_pages;
    try b.deferFree(i);
    try testing.expectError(Err.Invalid, b.deferFree(i));
    try testing.expectEqual(before, b.stats.free_pages);
    try testing.expectEqual(@as(u64, 4), b.stats.deferred_pages);
    try testing.expectEqual(@as(u64, 0), b.stats.allocated_pages);
    _ = try b.free(i);
    try testing.expectEqual(before + 4, b.stats.free_pages);
    try testing.expectEqual(@as(u64, 0), b.stats.deferred_pages);
}

test "nextBlock hops over blocks" {
    var b = try testBuddy(64);
    defer b.deinit();
    const a = try b.alloc(3);
    const c = try b.alloc(0);
    try b.setPreserved(c, true);
    // Page 0 is reserved, so the 1-page block lands at page 1, before the 8-page one.
    try testing.expectEqual(@as(u32, 1), c);
    try testing.expectEqual(@as(?u32, c), b.nextBlock(0, .allocated, false));
    try testing.expectEqual(@as(?u32, a), b.nextBlock(c + 1, .allocated, false));
    try testing.expectEqual(@as(?u32, c), b.nextBlock(0, .allocated, true));
    try testing.expectEqual(@as(?u32, null), b.nextBlock(c + 1, .allocated, true));
}
