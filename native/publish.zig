//! Publishing an image: the handover (write the preserved-memory map, then
//! commit the header through the journal), growing the published image
//! crash-safely (attach), and giving up the predecessor's image (discard).
//!
//! The rule behind all three: a block listed in the published map is never
//! reused while that map is published, so a process killed at any point
//! leaves an image whose every listed block is intact.

const std = @import("std");
const assert = std.debug.assert;
const errors = @import("errors.zig");
const Err = errors.Err;
const memmap = @import("memmap.zig");
const Buddy = @import("buddy.zig").Buddy;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;

/// Writes the preserved-memory map and publishes `root_pa` (a preserved
/// block, or 0 for nothing) with a journaled header update: a crash at any
/// point leaves either the previous image or this one published. Then what
/// the previous image held (the predecessor's unclaimed blocks, deferred
/// frees, the old map blocks) is freed.
pub fn handover(a: *Arena, root_pa: u64) Err!void {
    try a.writable();
    if (root_pa != 0) {
        const page = try a.buddy.head(try a.pageOf(root_pa), .allocated);
        if (!a.buddy.preserved[page]) return errors.fail(Err.Invalid, "handover: root 0x{x} is not preserved", .{root_pa});
    }
    // A second handover from this process replaces the first one's map: its
    // blocks stay intact (unpreserved, not freed) until the commit.
    setPreserved(a, a.own_map.items, false);
    errdefer setPreserved(a, a.own_map.items, true);
    const nblocks: usize = if (root_pa == 0) 0 else @intCast(memmap.blocksNeeded(a.buddy.stats.preserved_blocks));
    const blocks = a.gpa.alloc(u32, nblocks) catch return Err.NoMemory;
    errdefer a.gpa.free(blocks);
    var got: usize = 0;
    errdefer freeUnpreserved(a, blocks[0..got]);
    // The map writer fills each block whole.
    while (got < nblocks) : (got += 1) blocks[got] = try a.allocBlock(0, false);
    // Marked preserved only once all are allocated: the map lists itself.
    setPreserved(a, blocks, true);
    // Point of no return: nothing below can fail.
    writeMap(a, blocks);
    a.sync(0, a.mem.len);
    const map_pa = if (nblocks > 0) Arena.paOf(blocks[0]) else 0;
    a.commit(.{ .fdt_pa = root_pa, .mem_map_pa = map_pa, .handovers = a.published().handovers + 1 });
    var superseded = a.own_map;
    defer superseded.deinit(a.gpa);
    a.own_map = std.ArrayListUnmanaged(u32).fromOwnedSlice(blocks);
    a.source = if (root_pa == 0) .none else .own;
    relist(a);
    for (superseded.items) |page| freeListedNoMore(a, page);
    dropIncoming(a);
}

/// Marks every block of `pages` preserved (or not). Each is an allocated
/// block of ours whose mark is the opposite: own map blocks are preserved
/// between handovers, new ones are not until the map is complete.
fn setPreserved(a: *Arena, pages: []const u32, on: bool) void {
    for (pages) |page| {
        assert(a.buddy.state[page] == .allocated and a.buddy.preserved[page] != on);
        a.buddy.flipPreserved(page);
    }
}

/// Undoes the allocation of new map blocks after a failed handover (they
/// are marked preserved only once all of them are allocated).
fn freeUnpreserved(a: *Arena, pages: []const u32) void {
    for (pages) |page| {
        assert(!a.buddy.preserved[page]);
        freeListedNoMore(a, page);
    }
}

/// Frees a map block of ours (allocated, not preserved) that the published
/// map no longer lists.
fn freeListedNoMore(a: *Arena, page: u32) void {
    assert(!a.listed.isSet(page) and a.buddy.state[page] == .allocated and !a.buddy.preserved[page]);
    _ = a.freeValid(page);
}

/// Fills the map blocks with every preserved block (they list themselves).
fn writeMap(a: *Arena, blocks: []const u32) void {
    if (blocks.len == 0) return;
    var w = memmap.Writer{ .phys = a.phys(), .blocks = blocks };
    var it = a.buddy.preservedBlocks();
    while (it.next()) |page| w.add(Arena.paOf(page), Buddy.pagesOf(a.buddy.order[page]));
    w.finish();
}

/// After our own handover: the listed blocks are exactly our preserved ones.
fn relist(a: *Arena) void {
    a.listed.unsetAll();
    if (a.source != .own) return;
    var it = a.buddy.preservedBlocks();
    while (it.next()) |page| a.listed.set(page);
}

/// Appends the allocated block at `pa` to the published image's
/// preserved-memory map, so that if this process dies before its own
/// handover the next opener finds the block handed over. Crash-safe: the
/// entry is written first and published by one aligned 8-byte store (the
/// last map block's count, or the `next` pointer to a new last block that
/// is already complete and lists itself). The block stays allocated to the
/// caller; from now on freeing it only defers it (it is listed).
/// NotFound when nothing is published, Exists when the block is listed already.
pub fn attach(a: *Arena, pa: u64) Err!void {
    try a.writable();
    const first = try a.pageOf(pa);
    if (a.source == .none) return errors.fail(Err.NotFound, "attach 0x{x}: no image is published", .{pa});
    // Only block heads are ever listed; an unclaimed handed-over block is listed too.
    if (a.listed.isSet(first)) return errors.fail(Err.Exists, "attach 0x{x}: the block is listed in the published image already", .{pa});
    const page = try a.buddy.head(first, .allocated);
    const map = if (a.source == .own) &a.own_map else &a.incoming_map;
    // A published image always has a map: it lists at least its root.
    assert(map.items.len > 0);
    const last: u64 = map.items[map.items.len - 1] * PAGE_SIZE;
    const ph = a.phys();
    const count = ph.readU64(last + 8);
    assert(count >= 1 and count <= memmap.ENTRIES_PER_BLOCK);
    const npages = Buddy.pagesOf(a.buddy.order[page]);
    if (count < memmap.ENTRIES_PER_BLOCK) {
        const entry = last + memmap.HEADER_SIZE + count * memmap.ENTRY_SIZE;
        ph.writeU64(entry, pa);
        ph.writeU64(entry + 8, npages);
        a.sync(last, PAGE_SIZE);
        @atomicStore(u64, a.wordAt(@intCast(last + 8)), count + 1, .seq_cst);
        a.sync(last, PAGE_SIZE);
    } else {
        map.ensureUnusedCapacity(a.gpa, 1) catch return Err.NoMemory;
        const block = try a.allocBlock(0, true);
        if (a.source == .own) a.buddy.flipPreserved(block);
        const off: u64 = block * PAGE_SIZE;
        ph.writeU64(off + memmap.HEADER_SIZE, Arena.paOf(block));
        ph.writeU64(off + memmap.HEADER_SIZE + 8, 1);
        ph.writeU64(off + memmap.HEADER_SIZE + memmap.ENTRY_SIZE, pa);
        ph.writeU64(off + memmap.HEADER_SIZE + memmap.ENTRY_SIZE + 8, npages);
        ph.writeU64(off + 8, 2);
        a.sync(off, PAGE_SIZE);
        @atomicStore(u64, a.wordAt(@intCast(last)), Arena.paOf(block), .seq_cst);
        a.sync(last, PAGE_SIZE);
        map.appendAssumeCapacity(block);
        a.listed.set(block);
    }
    a.listed.set(page);
}

/// Gives up the predecessor's image for good: it is unpublished (the
/// handover count is kept), and its unclaimed blocks, its map and the
/// deferred frees are freed. NotFound when nothing was handed over to this
/// process or its own handover superseded it already.
pub fn discardIncoming(a: *Arena) Err!void {
    try a.writable();
    if (a.incoming_fdt_pa == 0) {
        return errors.fail(Err.NotFound, "discard: no incoming image (nothing was handed over, or this process handed over since)", .{});
    }
    // Only our own handover replaces the incoming image, and it clears incoming_fdt_pa.
    assert(a.source == .incoming);
    a.commit(.{ .fdt_pa = 0, .mem_map_pa = 0, .handovers = a.published().handovers });
    a.source = .none;
    a.listed.unsetAll();
    dropIncoming(a);
}

/// Frees what the predecessor's image still holds once it is no longer
/// published: its map blocks, its unclaimed blocks and every deferred free.
/// One pass: after each freed block the scan resumes past the free block it
/// merged into, never from the start (blocks kept in between are hopped
/// over once, not once per freed block).
fn dropIncoming(a: *Arena) void {
    assert(a.source != .incoming);
    for (a.incoming_map.items) |page| {
        // Claimed at open (allocated, not preserved); deferred if freed since.
        assert(a.buddy.state[page] == .allocated or a.buddy.state[page] == .deferred);
        _ = a.freeValid(page);
    }
    a.incoming_map.clearRetainingCapacity();
    var it = a.buddy.heldBlocks();
    while (it.next()) |page| it.skipTo(a.freeValid(page));
    a.incoming_fdt_pa = 0;
}

const testing = std.testing;
const Flags = arena_mod.Flags;

/// A first generation: `a` hands over a 1-page root; returns the root's pa.
fn firstGeneration(path: []const u8, pages: u64) !u64 {
    const a = try Arena.create(testing.allocator, path, pages * PAGE_SIZE, 0);
    defer a.close();
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    return root;
}

test "attach: a block a successor attached is handed over to the next opener, contents included" {
    var buf: [128]u8 = undefined;
    const path = try arena_mod.tmpPath(&buf, "attach");
    std.posix.unlink(path) catch {};
    defer std.posix.unlink(path) catch {};
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
    var buf: [128]u8 = undefined;
    const path = try arena_mod.tmpPath(&buf, "attach-many");
    std.posix.unlink(path) catch {};
    defer std.posix.unlink(path) catch {};
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
    var buf: [128]u8 = undefined;
    const path = try arena_mod.tmpPath(&buf, "attach-errors");
    std.posix.unlink(path) catch {};
    defer std.posix.unlink(path) catch {};
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
    var buf: [128]u8 = undefined;
    const path = try arena_mod.tmpPath(&buf, "discard");
    std.posix.unlink(path) catch {};
    defer std.posix.unlink(path) catch {};
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
    var buf: [128]u8 = undefined;
    const path = try arena_mod.tmpPath(&buf, "one-pass");
    std.posix.unlink(path) catch {};
    defer std.posix.unlink(path) catch {};
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
