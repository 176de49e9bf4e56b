//! C ABI: memory in bulk: a size as a list of extents, and one operation
//! on many regions (preserve, unpreserve, claim, free, populate).

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const abi = @import("abi.zig");
const extents = @import("extents.zig");
const regions = @import("regions.zig");
const trim = @import("trim.zig");

/// The caller's `{ u64 pa; u64 npages; }` pairs at `ptr`, `n` of them.
fn pairs(ptr: ?[*]u64, n: u32) Err![]extents.Extent {
    const flat = try abi.buffer(u64, ptr, @as(u64, n) * 2, "the regions");
    return @as([*]extents.Extent, @ptrCast(flat.ptr))[0..n];
}

/// Allocates `size` bytes as at most `max` extents, largest free blocks
/// first (extents.zig); writes `{ pa, npages }` pairs, in address order, to
/// `out` and their number to `count`. Flag 1 (ZERO): they read as zero.
/// ENOMEM, with nothing allocated, when the free pages or `max` extents do
/// not suffice.
export fn kho_alloc_extents(h: u32, size: u64, flags: u32, out: ?[*]u64, max: u32, count: ?*u32) i32 {
    const a = abi.enter(h) catch |e| return errors.code(e);
    const c = abi.place(u32, count) catch |e| return errors.code(e);
    const o = pairs(out, max) catch |e| return errors.code(e);
    c.* = @intCast(extents.alloc(a, size, flags, o) catch |e| return errors.code(e));
    return 0;
}

/// Keeps the first `keep_pages` pages of the allocated, unpreserved block
/// at `pa` and frees the rest (trim.zig); writes the blocks kept, `{ pa,
/// npages }` pairs in address order (at most 30), to `out` and their number
/// to `count`. EBUSY when it is preserved or listed in the published image.
export fn kho_trim(h: u32, pa: u64, keep_pages: u64, out: ?[*]u64, max: u32, count: ?*u32) i32 {
    const a = abi.enter(h) catch |e| return errors.code(e);
    const c = abi.place(u32, count) catch |e| return errors.code(e);
    const o = pairs(out, max) catch |e| return errors.code(e);
    c.* = @intCast(trim.trim(a, pa, keep_pages, o) catch |e| return errors.code(e));
    return 0;
}

/// Runs operation `op` (regions.zig `Op`: 0 preserve, 1 unpreserve, 2
/// claim, 3 free, 4 populate for reading, 5 for writing) on `n` regions
/// `{ u64 pa; u64 npages; }`, all or nothing; on failure writes the index
/// of the region that failed to `failed`.
export fn kho_regions(h: u32, op: u32, list: ?[*]u64, n: u32, failed: ?*u32) i32 {
    const a = abi.enter(h) catch |e| return errors.code(e);
    const f = abi.place(u32, failed) catch |e| return errors.code(e);
    const o = std.meta.intToEnum(regions.Op, op) catch return errors.code(errors.fail(Err.Invalid, "regions: unknown operation {d}", .{op}));
    const rs = pairs(list, n) catch |e| return errors.code(e);
    regions.apply(a, o, rs, f) catch |e| return errors.code(e);
    return 0;
}
