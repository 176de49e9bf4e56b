//! What every exported function of the C ABI shares: the table of open
//! arenas behind the handles, the entry of a call on one, and the
//! conversion of results to return codes.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const Arena = @import("arena.zig").Arena;
const handles = @import("handles.zig");

pub const gpa = std.heap.page_allocator;
pub var arenas = handles.Table(Arena){ .gpa = gpa };

/// The start of every call on an arena: clears the detail, resolves the handle.
pub fn enter(h: u32) Err!*Arena {
    errors.clearDetail();
    return arenas.get(h) catch |e| errors.fail(e, "handle 0x{x} is not an open arena (closed, or never opened)", .{h});
}

pub fn ret(r: Err!void) i32 {
    r catch |e| return errors.code(e);
    return 0;
}

/// `out`, or Invalid naming it when it is null.
pub fn place(comptime T: type, out: ?*T) Err!*T {
    return out orelse errors.fail(Err.Invalid, "no place for the result (out is null)", .{});
}

/// The caller's buffer of `len` items at `ptr` (empty when `len` is 0);
/// Invalid naming `what` when it is null but should hold items.
pub fn buffer(comptime T: type, ptr: ?[*]T, len: u64, comptime what: []const u8) Err![]T {
    if (len == 0) return @constCast(&[_]T{});
    const p = ptr orelse return errors.fail(Err.Invalid, what ++ " is null but should hold {d} items", .{len});
    if (len > std.math.maxInt(usize) / @sizeOf(T)) return errors.fail(Err.Invalid, what ++ ": {d} items is too many", .{len});
    return p[0..@intCast(len)];
}
