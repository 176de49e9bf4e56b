//! One operation on many regions in one call (kho_regions): preserve,
//! unpreserve, claim, free or populate a list of `{ u64 pa; u64 npages; }`
//! (a memory file's extents, a chain's blocks). Each is all or nothing: a
//! failure names the region (its index goes to the caller) and leaves
//! every region as it was.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Buddy = @import("buddy.zig").Buddy;
const Extent = @import("extents.zig").Extent;
const populate = @import("populate.zig");

const PAGE_SIZE = arena_mod.PAGE_SIZE;

/// The operations (lib/kho/regions.ts mirrors the numbers).
pub const Op = enum(u32) {
    /// Mark each allocated block preserved (it holds `npages` pages).
    preserve = 0,
    /// Clear the preserved mark of each.
    unpreserve = 1,
    /// Claim each handed-over block (it holds at least `npages` pages).
    claim = 2,
    /// Free each block (allocated and not preserved, or handed over).
    free = 3,
    /// Populate each for reading.
    populate_read = 4,
    /// Populate each for writing.
    populate_write = 5,
};

/// Runs `op` on every region; on failure `failed` is the index of the region that failed.
pub fn apply(a: *Arena, op: Op, regions: []const Extent, failed: *u32) Err!void {
    failed.* = 0;
    switch (op) {
        .preserve, .unpreserve => try mark(a, regions, op == .preserve, failed),
        .claim => try claim(a, regions, failed),
        .free => try free(a, regions, failed),
        .populate_read, .populate_write => try populate.populate(a, regions, if (op == .populate_write) populate.PopulateFlags.WRITE else 0),
    }
}

/// Preserves (unpreserves) each; on a failure undoes those done.
fn mark(a: *Arena, regions: []const Extent, on: bool, failed: *u32) Err!void {
    for (regions, 0..) |r, k| {
        // A page count too large for bytes fits no block: the check below refuses it.
        const bytes = std.math.mul(u64, r[1], PAGE_SIZE) catch std.math.maxInt(u64);
        const res = if (on) a.preserve(r[0], bytes) else a.unpreserve(r[0], bytes);
        res catch |e| {
            failed.* = @intCast(k);
            // Those done are the blocks marked by this call: flipping back cannot fail.
            for (regions[0..k]) |d| a.buddy.flipPreserved(@intCast((d[0] - arena_mod.PHYS_BASE) / PAGE_SIZE));
            return e;
        };
    }
}

/// The page of each region, checked by `valid` and not listed twice
/// (the arena's scratch bitset of pages, cleared again before returning).
fn checkAll(a: *Arena, regions: []const Extent, failed: *u32, comptime valid: fn (*Arena, Extent) Err!u32) Err!void {
    const seen = &a.records_scratch.seen;
    if (seen.bit_length != a.buddy.npages) seen.resize(a.gpa, a.buddy.npages, false) catch return Err.NoMemory;
    var k: usize = 0;
    defer for (regions[0..k]) |r| seen.unset(@intCast((r[0] - arena_mod.PHYS_BASE) / PAGE_SIZE));
    while (k < regions.len) : (k += 1) {
        const page = valid(a, regions[k]) catch |e| {
            failed.* = @intCast(k);
            return e;
        };
        if (seen.isSet(page)) {
            failed.* = @intCast(k);
            return errors.fail(Err.Invalid, "region {d} (0x{x}) is listed twice", .{ k, regions[k][0] });
        }
        seen.set(page);
    }
}

fn claimable(a: *Arena, r: Extent) Err!u32 {
    const page = try a.headIn(r[0], .handed_over, "claim");
    const pages = Buddy.pagesOf(a.buddy.order[page]);
    if (pages < r[1]) return errors.fail(Err.Invalid, "0x{x}: a handed-over block of {d} pages, {d} wanted", .{ r[0], pages, r[1] });
    return page;
}

fn releasable(a: *Arena, r: Extent) Err!u32 {
    return a.releasableHead(r[0]);
}

/// Claims each handed-over block, all checked first.
fn claim(a: *Arena, regions: []const Extent, failed: *u32) Err!void {
    try a.writable();
    try checkAll(a, regions, failed, claimable);
    for (regions) |r| a.buddy.claim(@intCast((r[0] - arena_mod.PHYS_BASE) / PAGE_SIZE));
}

/// Frees each block, all checked first.
fn free(a: *Arena, regions: []const Extent, failed: *u32) Err!void {
    try a.writable();
    try checkAll(a, regions, failed, releasable);
    for (regions) |r| a.releaseValid(@intCast((r[0] - arena_mod.PHYS_BASE) / PAGE_SIZE));
}
