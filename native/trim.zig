//! Giving back the tail of an allocated block: its first pages stay
//! allocated, as the blocks of the binary decomposition of their count
//! (largest first, contiguous), and the rest goes back to the free lists.
//! A memory file shrinks this way without moving a byte.

const std = @import("std");
const assert = std.debug.assert;
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Buddy = @import("buddy.zig").Buddy;
const Extent = @import("extents.zig").Extent;

const PAGE_SIZE = arena_mod.PAGE_SIZE;

/// Keeps the first `keep` pages of the allocated, unpreserved block at
/// `pa` and frees the rest; writes the blocks kept to `out` (one per bit of
/// `keep`) and returns their number. Busy when the block is preserved or
/// listed in the published image (its pages must stay as the image says
/// until our own handover); Invalid unless 0 < keep < its pages, or when
/// `out` has no room for the blocks kept. Nothing changes on failure.
pub fn trim(a: *Arena, pa: u64, keep: u64, out: []Extent) Err!usize {
    try a.writable();
    const page = try a.pageOf(pa);
    const b = &a.buddy;
    if (b.state[page] != .allocated) {
        return errors.fail(Err.Invalid, "trim 0x{x}: not an allocated block: it is {s}", .{ pa, a.stateWords(page) });
    }
    if (b.preserved[page]) return errors.fail(Err.Busy, "trim 0x{x}: it is preserved", .{pa});
    if (a.listed.bit_length > page and a.listed.isSet(page)) {
        return errors.fail(Err.Busy, "trim 0x{x}: it is listed in the published image", .{pa});
    }
    const pages = Buddy.pagesOf(b.order[page]);
    if (pages == 1) return errors.fail(Err.Invalid, "trim 0x{x}: a one-page block has nothing to give back", .{pa});
    if (keep == 0 or keep >= pages) {
        return errors.fail(Err.Invalid, "trim 0x{x}: keep {d} pages of {d}: want 1..{d}", .{ pa, keep, pages, pages - 1 });
    }
    const n = @popCount(keep);
    if (out.len < n) return errors.fail(Err.Invalid, "trim: room for {d} blocks, {d} kept", .{ out.len, n });
    split(a, page, keep, out[0..n]);
    return n;
}

/// Splits the block at `first` in halves until exactly `keep` pages are
/// left allocated, the blocks kept written to `out` in address order; the
/// upper halves not kept are free blocks (their buddies are kept pages, so
/// none merges). At most `order` steps.
fn split(a: *Arena, first: u32, keep: u64, out: []Extent) void {
    const b = &a.buddy;
    var kept: usize = 0;
    var k = b.order[first];
    var at: u64 = first;
    var left = keep;
    b.stats.allocated_pages -= Buddy.pagesOf(k) - keep;
    while (k > 0) {
        k -= 1;
        const half = Buddy.pagesOf(k);
        assert(left > 0 and left < 2 * half);
        if (left >= half) {
            keepBlock(b, at, k);
            out[kept] = .{ Arena.paOf(at), half };
            kept += 1;
        }
        if (left <= half) {
            freeBlock(a, at + half, k);
            if (left == half) {
                assert(kept == out.len);
                return;
            }
        } else {
            at += half;
            left -= half;
            continue;
        }
    }
    unreachable; // left reaches half at the latest when the halves are single pages
}

fn keepBlock(b: *Buddy, at: u64, order: u8) void {
    const i: u32 = @intCast(at);
    b.state[i] = .allocated;
    b.order[i] = order;
    b.preserved[i] = false;
}

fn freeBlock(a: *Arena, at: u64, order: u8) void {
    const i: u32 = @intCast(at);
    a.buddy.listPush(i, order);
    if (a.flags & arena_mod.Flags.POISON != 0) {
        @memset(a.mem[@intCast(at * PAGE_SIZE)..][0..@intCast(Buddy.pagesOf(order) * PAGE_SIZE)], arena_mod.POISON_BYTE);
    }
}
