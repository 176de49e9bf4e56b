//! Memory of any size as a list of extents, so that a file needs its size
//! in free pages (rounded up to a page), not one naturally aligned
//! power-of-two block of up to twice its size: the first pages of one
//! block when a block holds them (contiguous), else taken from the free
//! blocks, largest first. The extents are whole buddy blocks (each is
//! preserved, handed over and claimed as one), returned in address order.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const AllocFlags = arena_mod.AllocFlags;
const Buddy = @import("buddy.zig").Buddy;

const PAGE_SIZE = arena_mod.PAGE_SIZE;

/// An extent: physical address and size in pages, as the C ABI writes it.
pub const Extent = [2]u64;

/// Allocates `size` bytes as at most `out.len` extents (flag ZERO: they
/// read as zero); returns how many. When a block that holds them all is
/// free, they are its first pages, contiguous (the blocks of the binary
/// decomposition of the page count; the rest of the block is freed again),
/// or, with too few extents for that, the whole block. Otherwise each step
/// takes the largest free block when the pages still needed fill it, else
/// the largest power of two of them (split off a larger block), so that
/// the pages add up to exactly the size; when the extents would run out,
/// the last one is rounded up to a block that holds the rest, if one is
/// free. NoMemory, with nothing allocated, when the free pages or the
/// extents do not suffice.
pub fn alloc(a: *Arena, size: u64, flags: u32, out: []Extent) Err!usize {
    try a.writable();
    if (flags & ~AllocFlags.ALL != 0) return errors.fail(Err.Invalid, "alloc_extents: unknown flags 0x{x}", .{flags & ~AllocFlags.ALL});
    if (size == 0) return errors.fail(Err.Invalid, "alloc_extents: size 0", .{});
    if (out.len == 0) return errors.fail(Err.Invalid, "alloc_extents: no room for an extent", .{});
    const need = size / PAGE_SIZE + @intFromBool(size % PAGE_SIZE != 0);
    const free = a.buddy.stats.free_pages;
    if (need > free) return errors.fail(Err.NoMemory, "out of arena memory: {d} bytes need {d} pages, {d} are free", .{ size, need, free });
    const zero = flags & AllocFlags.ZERO != 0;
    const order: u8 = @intCast(std.math.log2_int_ceil(u64, need));
    if (a.buddy.largestFree().? >= order) return oneBlock(a, need, order, zero, out);
    return largestFirst(a, size, need, zero, out);
}

/// The first `need` pages of a free block of `order`, as contiguous extents.
fn oneBlock(a: *Arena, need: u64, order: u8, zero: bool, out: []Extent) Err!usize {
    const page = try a.allocBlock(order, zero);
    if (need == Buddy.pagesOf(order) or @popCount(need) > out.len) {
        out[0] = .{ Arena.paOf(page), Buddy.pagesOf(order) };
        return 1;
    }
    const n = trim(&a.buddy, page, need);
    var at: u64 = page;
    for (out[0..n]) |*e| {
        e.* = .{ Arena.paOf(at), Buddy.pagesOf(a.buddy.order[@intCast(at)]) };
        at += e[1];
    }
    return n;
}

/// Cuts the allocated block at `first` down to its first `keep` pages
/// (0 < keep < its pages): they become the allocated blocks of the
/// binary decomposition of `keep`, largest first, and the rest goes back
/// to the free lists (no merge is possible: the buddy of every piece
/// freed lies in the part kept). Returns how many blocks were kept.
fn trim(b: *Buddy, first: u32, keep: u64) u32 {
    const order = b.order[first];
    const total = Buddy.pagesOf(order);
    std.debug.assert(b.state[first] == .allocated and !b.preserved[first] and keep > 0 and keep < total);
    var at: u64 = first;
    var kept: u32 = 0;
    var k: u8 = order;
    while (k > 0) {
        k -= 1;
        if (keep & Buddy.pagesOf(k) == 0) continue;
        const i: u32 = @intCast(at);
        b.state[i] = .allocated;
        b.order[i] = k;
        b.preserved[i] = false;
        at += Buddy.pagesOf(k);
        kept += 1;
    }
    b.stats.allocated_pages -= total - keep;
    b.addFreeRange(@intCast(at), @intCast(total - keep));
    return kept;
}

/// `need` pages from the free blocks, largest first (no block holds them all).
fn largestFirst(a: *Arena, size: u64, need: u64, zero: bool, out: []Extent) Err!usize {
    var n: usize = 0;
    errdefer for (out[0..n]) |e| {
        _ = a.freeValid(@intCast((e[0] - arena_mod.PHYS_BASE) / PAGE_SIZE));
    };
    var left = need;
    // Bounded: one extent per step, at most out.len steps.
    while (left > 0) : (n += 1) {
        if (n == out.len) {
            return errors.fail(Err.NoMemory, "out of arena memory: {d} bytes do not fit in {d} extents ({d} pages free)", .{ size, out.len, a.buddy.stats.free_pages });
        }
        const order = orderOfNext(&a.buddy, left, n + 1 == out.len);
        const page = try a.allocBlock(order, zero);
        const pages = Buddy.pagesOf(order);
        out[n] = .{ Arena.paOf(page), pages };
        left -= @min(left, pages);
    }
    std.mem.sortUnstable(Extent, out[0..n], {}, byAddress);
    return n;
}

/// The order of the next extent for `left` pages (some block is free).
fn orderOfNext(b: *const Buddy, left: u64, last: bool) u8 {
    const largest = b.largestFree().?; // left <= free pages, and left > 0
    if (Buddy.pagesOf(largest) <= left) return largest;
    const floor: u8 = @intCast(std.math.log2_int(u64, left));
    if (!last or Buddy.pagesOf(floor) == left) return floor;
    // The last extent: a block holding all the rest (largest > left: one is free).
    return @intCast(std.math.log2_int_ceil(u64, left));
}

fn byAddress(_: void, x: Extent, y: Extent) bool {
    return x[0] < y[0];
}
