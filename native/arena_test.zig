//! Unit tests of arena.zig: handover and reopen, a damaged map, zeroing.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Flags = arena_mod.Flags;
const AllocFlags = arena_mod.AllocFlags;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const POISON_BYTE = arena_mod.POISON_BYTE;
const Hdr = @import("header.zig").Hdr;
const TestDir = @import("test_dir.zig").TestDir;

test "create, allocate, hand over, reopen: preserved blocks are held, the rest is free" {
    var t = TestDir{};
    const path = try t.init("handover");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 256 * PAGE_SIZE, Flags.POISON);
    const p1 = (try a.allocPreserve(3 * PAGE_SIZE, 0)).pa;
    const p2 = (try a.allocPreserve(1, 0)).pa;
    const scratch = (try a.alloc(PAGE_SIZE, 0)).pa;
    try testing.expectError(Err.Busy, Arena.open(testing.allocator, path, 0));
    a.mem[@intCast(p1 - PHYS_BASE)] = 42;
    a.mem[@intCast(scratch - PHYS_BASE)] = 7;
    try a.handover(p2);
    a.close();

    const b = try Arena.open(testing.allocator, path, Flags.POISON);
    defer b.close();
    try testing.expectEqual(p2, b.incoming_fdt_pa);
    try testing.expectEqual(@as(u64, 1), b.info().handovers);
    try testing.expectEqual(@as(u64, 2), b.info().handed_over_blocks);
    try testing.expectEqual(@as(u64, 4), try b.restore(p1));
    try testing.expectEqual(@as(u8, 42), b.mem[@intCast(p1 - PHYS_BASE)]);
    try testing.expectEqual(POISON_BYTE, b.mem[@intCast(scratch - PHYS_BASE)]);
    try testing.expectError(Err.NotFound, b.restore(p1));
    try testing.expectError(Err.Invalid, b.restore(scratch + 1));
    try b.restoreFree(p1);
    try b.restoreFree(p2);
    // The predecessor's state stays intact until our handover: its blocks are
    // deferred, not reusable; the map block is held too.
    try testing.expectEqual(@as(u64, 5), b.info().deferred_pages);
    try testing.expectEqual(@as(u64, 256 - 2 - 5), b.info().free_pages);
    try b.handover(0);
    try testing.expectEqual(@as(u64, 0), b.info().deferred_pages);
    try testing.expectEqual(@as(u64, 255), b.info().free_pages);
}

test "a damaged map is reported, not trusted" {
    var t = TestDir{};
    const path = try t.init("corrupt");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    const map_off = a.phys().readU64(Hdr.mem_map_pa) - PHYS_BASE;
    a.phys().writeU64(map_off + 8, 999); // count over capacity
    a.close();
    try testing.expectError(Err.Corrupt, Arena.open(testing.allocator, path, 0));
    const c = try Arena.open(testing.allocator, path, Flags.DISCARD);
    defer c.close();
    try testing.expectEqual(@as(u64, 63), c.info().free_pages);
}

test "ZERO: fresh pages are handed out as they are, reused ones are zero-filled" {
    var t = TestDir{};
    const path = try t.init("zero");
    defer t.deinit();
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const first = try a.alloc(2 * PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(@as(u64, 0), a.zeroed_pages);
    const bytes = a.mem[@intCast(first.pa - PHYS_BASE)..][0 .. 2 * PAGE_SIZE];
    try testing.expect(std.mem.allEqual(u8, bytes, 0));
    @memset(bytes, 0xff);
    try a.free(first.pa);
    const again = try a.alloc(2 * PAGE_SIZE, 0);
    try testing.expectEqual(first.pa, again.pa); // reused, and left as it was
    try testing.expectEqual(@as(u8, 0xff), bytes[PAGE_SIZE]);
    try a.free(again.pa);
    const zeroed = try a.allocPreserve(2 * PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(first.pa, zeroed.pa);
    try testing.expect(std.mem.allEqual(u8, bytes, 0));
    try testing.expectEqual(@as(u64, 2), a.zeroed_pages);
    try testing.expectError(Err.Invalid, a.alloc(1, 2));
    a.close();
    // An opened arena knows no fresh page: every ZERO allocation is filled.
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    _ = try b.alloc(PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(@as(u64, 1), b.zeroed_pages);
}
