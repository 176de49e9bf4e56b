//! Arrays of per-page metadata in anonymous mappings: zero-filled by the
//! kernel and costing nothing until touched, so that an array over every
//! page of a large arena is cheap when only a few entries are used.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;

/// A zero-filled array of `n` items in its own anonymous mapping.
pub fn zeroed(comptime T: type, n: usize) Err![]T {
    std.debug.assert(n > 0);
    const bytes = std.mem.alignForward(usize, n * @sizeOf(T), std.heap.page_size_min);
    const mem = std.posix.mmap(null, bytes, std.posix.PROT.READ | std.posix.PROT.WRITE, .{ .TYPE = .PRIVATE, .ANONYMOUS = true }, -1, 0) catch
        return errors.fail(Err.NoMemory, "no process memory for {d} bytes of page metadata", .{bytes});
    return @as([*]T, @ptrCast(@alignCast(mem.ptr)))[0..n];
}

/// Unmaps an array from `zeroed`.
pub fn unmap(xs: anytype) void {
    const T = @typeInfo(@TypeOf(xs)).pointer.child;
    const bytes = std.mem.alignForward(usize, xs.len * @sizeOf(T), std.heap.page_size_min);
    const p: [*]align(std.heap.page_size_min) u8 = @ptrCast(@alignCast(xs.ptr));
    std.posix.munmap(p[0..bytes]);
}

test "zeroed arrays read as zero and are unmapped again" {
    const xs = try zeroed(u32, 5000);
    defer unmap(xs);
    try std.testing.expectEqual(@as(usize, 5000), xs.len);
    for (xs) |x| try std.testing.expectEqual(@as(u32, 0), x);
    xs[4999] = 7;
}
