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
const journal = @import("journal.zig");
const Buddy = @import("buddy.zig").Buddy;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;

/// Writes the preserved-memory map and publishes `root_pa` (a preserved
/// block, or 0 for nothing) with a journaled header update: a crash at any
/// point leaves either the previous image or this one published. Then what
/// the previous image held (the predecessor's unclaimed blocks, deferred
/// frees, the old map blocks) is freed. An error before the commit point
/// changes nothing; an Io error after it (SYNC: a failed msync) means the
/// image is published but may not survive a host crash.
pub fn handover(a: *Arena, root_pa: u64) Err!void {
    try a.writable();
    if (root_pa != 0) {
        const page = try a.buddy.head(try a.pageOf(root_pa), .allocated);
        if (!a.buddy.preserved[page]) return errors.fail(Err.Invalid, "handover: root 0x{x} is not preserved", .{root_pa});
    }
    const staged = try publishMap(a, root_pa);
    // Committed: nothing below fails.
    var superseded = a.own_map;
    defer superseded.deinit(a.gpa);
    a.own_map = std.ArrayListUnmanaged(u32).fromOwnedSlice(staged.blocks);
    a.source = if (root_pa == 0) .none else .own;
    a.listing.forget();
    relist(a);
    for (superseded.items) |page| freeListedNoMore(a, page);
    dropIncoming(a);
    if (staged.outcome == .not_flushed) return notFlushed("the handover");
}

const Staged = struct { blocks: []u32, outcome: journal.Outcome };

/// Everything up to and including the commit; an error undoes all of it.
fn publishMap(a: *Arena, root_pa: u64) Err!Staged {
    const count = journal.published(a).handovers;
    const handovers = std.math.add(u64, count, 1) catch
        return errors.fail(Err.Overflow, "handover: the arena header's handover count is {d}, its maximum (start a new arena)", .{count});
    // A second handover from this process replaces the first one's map: its
    // blocks stay intact (unpreserved, not freed) until the commit.
    setPreserved(a, a.own_map.items, false);
    errdefer setPreserved(a, a.own_map.items, true);
    const nblocks: usize = if (root_pa == 0) 0 else @intCast(memmap.blocksNeeded(a.buddy.stats.preserved_blocks));
    const blocks = try allocMapBlocks(a, nblocks);
    errdefer dropMapBlocks(a, blocks);
    writeMap(a, blocks);
    try a.sync(0, a.mem.len);
    const map_pa = if (nblocks > 0) Arena.paOf(blocks[0]) else 0;
    const outcome = try journal.commit(a, .{ .fdt_pa = root_pa, .mem_map_pa = map_pa, .handovers = handovers });
    return .{ .blocks = blocks, .outcome = outcome };
}

/// `n` new map blocks, preserved (the map lists itself); nothing on failure.
fn allocMapBlocks(a: *Arena, n: usize) Err![]u32 {
    const blocks = a.gpa.alloc(u32, n) catch return Err.NoMemory;
    errdefer a.gpa.free(blocks);
    var got: usize = 0;
    errdefer for (blocks[0..got]) |page| freeListedNoMore(a, page);
    // The map writer fills each block whole: no zeroing needed.
    while (got < n) : (got += 1) blocks[got] = try a.allocBlock(0, false);
    setPreserved(a, blocks, true);
    return blocks;
}

/// Undoes `allocMapBlocks`.
fn dropMapBlocks(a: *Arena, blocks: []u32) void {
    setPreserved(a, blocks, false);
    for (blocks) |page| freeListedNoMore(a, page);
    a.gpa.free(blocks);
}

/// Marks every block of `pages` preserved (or not). Each is an allocated
/// block of ours whose mark is the opposite: own map blocks are preserved
/// between handovers, new ones from when all of them are allocated.
fn setPreserved(a: *Arena, pages: []const u32, on: bool) void {
    for (pages) |page| {
        assert(a.buddy.state[page] == .allocated and a.buddy.preserved[page] != on);
        a.buddy.flipPreserved(page);
    }
}

/// Frees a map block of ours (allocated, not preserved) that the published
/// map does not list.
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

/// The Io error of a change committed but not flushed; the detail, which
/// names the failed msync, says what it means.
fn notFlushed(comptime what: []const u8) Err {
    errors.append("; " ++ what ++ " is published all the same (a live successor finds it), " ++
        "but a host crash may bring back the previous image", .{});
    return Err.Io;
}

/// Appends the allocated block at `pa` to the published image's
/// preserved-memory map, so that if this process dies before its own
/// handover the next opener finds the block handed over. Crash-safe: the
/// entry is written first and published by one aligned 8-byte store (the
/// `npages` of a tombstone's slot, taken first; else the last map block's
/// count, or the `next` pointer to a new last block that is already
/// complete and lists itself). The block stays allocated to the caller;
/// from now on `free` only defers it (it is listed), `freeUnreferenced`
/// unlists and frees it.
/// NotFound when nothing is published, Exists when the block is listed already.
pub fn attach(a: *Arena, pa: u64) Err!void {
    try a.writable();
    const first = try a.pageOf(pa);
    if (a.source == .none) return errors.fail(Err.NotFound, "attach 0x{x}: no image is published", .{pa});
    // Only block heads are ever listed; an unclaimed handed-over block is listed too.
    if (a.listed.isSet(first)) return errors.fail(Err.Exists, "attach 0x{x}: the block is listed in the published image already", .{pa});
    const page = try a.buddy.head(first, .allocated);
    const map = a.publishedMap();
    // A published image always has a map: it lists at least its root.
    assert(map.items.len > 0);
    const last: u64 = @as(u64, map.items[map.items.len - 1]) * PAGE_SIZE;
    // The map lies in the arena, which the process can write: checked, not assumed.
    const count = a.phys().readU64(last + 8);
    if (count == 0 or count > memmap.ENTRIES_PER_BLOCK) {
        return errors.fail(Err.Corrupt, "attach 0x{x}: the last preserved-memory map block (0x{x}) has count {d} now, want 1..{d}", .{ pa, Arena.paOf(last / PAGE_SIZE), count, memmap.ENTRIES_PER_BLOCK });
    }
    const entry = memmap.Entry{ .pa = pa, .npages = Buddy.pagesOf(a.buddy.order[page]) };
    const placed = if (a.listing.vacant.getLastOrNull()) |slot|
        try reuseSlot(a, slot, entry)
    else if (count < memmap.ENTRIES_PER_BLOCK)
        try appendEntry(a, last, count, entry)
    else
        try appendBlock(a, map, last, entry);
    a.listed.set(page);
    a.listing.noteEntry(page, placed.block);
    if (placed.outcome == .not_flushed) return notFlushed("the attached block");
}

/// Where `attach` wrote an entry (the page of its map block), and whether it was flushed.
const Placed = struct { block: u32, outcome: journal.Outcome };

/// Writes `entry` into the tombstone at byte offset `slot` (the last
/// vacant one): `pa` first, unpublished while `npages` is still 0, then
/// published by storing `npages`.
fn reuseSlot(a: *Arena, slot: u64, entry: memmap.Entry) Err!Placed {
    const block: u32 = @intCast(slot / PAGE_SIZE);
    if (a.phys().readU64(slot + 8) != memmap.TOMBSTONE) {
        return errors.fail(Err.Corrupt, "attach 0x{x}: the removed entry at 0x{x} of the preserved-memory map was overwritten", .{ entry.pa, Arena.paOf(0) + slot });
    }
    a.phys().writeU64(slot, entry.pa);
    try a.sync(slot, memmap.ENTRY_SIZE);
    @atomicStore(u64, a.wordAt(@intCast(slot + 8)), entry.npages, .seq_cst); // the publishing store
    _ = a.listing.vacant.pop();
    a.sync(slot, memmap.ENTRY_SIZE) catch return .{ .block = block, .outcome = .not_flushed };
    return .{ .block = block, .outcome = .flushed };
}

/// Writes `entry` after the `count` entries of the map block at `last`,
/// then publishes it by storing the new count.
fn appendEntry(a: *Arena, last: u64, count: u64, entry: memmap.Entry) Err!Placed {
    const block: u32 = @intCast(last / PAGE_SIZE);
    memmap.writeEntry(a.phys(), last, count, entry);
    try a.sync(last, PAGE_SIZE);
    @atomicStore(u64, a.wordAt(@intCast(last + 8)), count + 1, .seq_cst); // the publishing store
    a.sync(last, PAGE_SIZE) catch return .{ .block = block, .outcome = .not_flushed };
    return .{ .block = block, .outcome = .flushed };
}

/// A new last map block listing itself and `entry`, published by storing
/// its address in the `next` of the full block at `last`.
fn appendBlock(a: *Arena, map: *std.ArrayListUnmanaged(u32), last: u64, entry: memmap.Entry) Err!Placed {
    map.ensureUnusedCapacity(a.gpa, 1) catch return Err.NoMemory;
    const block = try a.allocBlock(0, true);
    errdefer _ = a.freeValid(block);
    const off: u64 = @as(u64, block) * PAGE_SIZE;
    memmap.writeEntry(a.phys(), off, 0, .{ .pa = Arena.paOf(block), .npages = 1 });
    memmap.writeEntry(a.phys(), off, 1, entry);
    a.phys().writeU64(off + 8, 2);
    try a.sync(off, PAGE_SIZE);
    // Own map blocks are preserved between handovers; the predecessor's are not.
    if (a.source == .own) a.buddy.flipPreserved(block);
    map.appendAssumeCapacity(block);
    a.listed.set(block);
    a.listing.noteEntry(block, block);
    @atomicStore(u64, a.wordAt(@intCast(last)), Arena.paOf(block), .seq_cst); // the publishing store
    a.sync(last, PAGE_SIZE) catch return .{ .block = block, .outcome = .not_flushed };
    return .{ .block = block, .outcome = .flushed };
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
    const outcome = try journal.commit(a, .{ .fdt_pa = 0, .mem_map_pa = 0, .handovers = journal.published(a).handovers });
    a.source = .none;
    a.listed.unsetAll();
    a.listing.forget();
    dropIncoming(a);
    if (outcome == .not_flushed) return notFlushed("the unpublished state");
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
