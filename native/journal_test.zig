//! Unit tests of journal.zig and of the flushes around it (SYNC): a failed
//! msync before a commit point changes nothing; after it the change is
//! published and the failure reported.

const std = @import("std");
const testing = std.testing;
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Flags = arena_mod.Flags;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const journal = @import("journal.zig");
const TestDir = @import("test_dir.zig").TestDir;

/// The msyncs of a first handover: the map and data (1), the record (2),
/// after the commit point (3), the header fields (4), the cleared record (5).
const COMMIT_POINT_FLUSH = 3;

fn failSyncAt(a: *Arena, n: u64) void {
    a.sync_fail_at = a.syncs + n;
}

test "SYNC: a failed msync before the commit point fails the handover and changes nothing" {
    var t = TestDir{};
    _ = try t.init("sync-before");
    defer t.deinit();
    for ([_]u64{ 1, 2 }) |n| {
        const path = try t.path(if (n == 1) "a.arena" else "b.arena");
        const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, Flags.SYNC);
        defer a.close();
        const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
        const before = a.info();
        failSyncAt(a, n);
        try testing.expectError(Err.Io, a.handover(root));
        try testing.expect(std.mem.indexOf(u8, errors.detail(), "fault injection") != null);
        try testing.expectEqual(@as(u64, 0), journal.published(a).fdt_pa);
        var after = a.info();
        after.allocations = before.allocations; // the map block was allocated, then freed
        try testing.expectEqual(before, after);
        try testing.expectEqual(@as(usize, 0), a.own_map.items.len);
        try a.handover(root);
        try testing.expectEqual(root, journal.published(a).fdt_pa);
    }
}

test "SYNC: a failed msync after the commit point publishes and reports Io" {
    var t = TestDir{};
    const path = try t.init("sync-after");
    defer t.deinit();
    var root: u64 = 0;
    {
        const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, Flags.SYNC);
        defer a.close();
        root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
        failSyncAt(a, COMMIT_POINT_FLUSH);
        try testing.expectError(Err.Io, a.handover(root));
        try testing.expect(std.mem.indexOf(u8, errors.detail(), "published all the same") != null);
        try testing.expectEqual(root, journal.published(a).fdt_pa);
        try testing.expectEqual(@as(u64, 1), a.info().handovers);
    }
    const b = try Arena.open(testing.allocator, path, Flags.SYNC);
    defer b.close();
    try testing.expectEqual(root, b.incoming_fdt_pa);
    // attach: before its publishing store, nothing is attached; after, it is.
    const x = (try b.alloc(PAGE_SIZE, 0)).pa;
    failSyncAt(b, 1);
    try testing.expectError(Err.Io, b.attach(x));
    try testing.expect(!b.listed.isSet(@intCast((x - arena_mod.PHYS_BASE) / PAGE_SIZE)));
    failSyncAt(b, 2);
    try testing.expectError(Err.Io, b.attach(x));
    try testing.expectError(Err.Exists, b.attach(x));
}

test "a record left valid by a crash after the commit point is rolled forward" {
    var t = TestDir{};
    const path = try t.init("pending");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    journal.simulateCrashAfterCommitPoint(a, journal.published(a));
    try testing.expectEqual(@as(u64, 0), a.phys().readU64(@import("header.zig").Hdr.fdt_pa));
    a.close();
    const ro = try Arena.open(testing.allocator, path, Flags.READ_ONLY);
    try testing.expectEqual(root, ro.incoming_fdt_pa);
    ro.close();
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    try testing.expectEqual(root, b.incoming_fdt_pa);
    try testing.expectEqual(root, b.phys().readU64(@import("header.zig").Hdr.fdt_pa));
    try testing.expectEqual(@as(u64, 0), b.phys().readU64(journal.OFFSET));
}
