//! Unit tests of the C ABI in kho.zig.

const std = @import("std");
const errors = @import("errors.zig");

// The exported C functions, declared as a C caller sees them (tests.zig
// links kho.zig into the same test binary).
extern fn kho_close(h: u32) i32;
extern fn kho_base(h: u32) ?[*]u8;
extern fn kho_open(path: ?[*]const u8, len: usize, flags: u32, out: ?*u32) i32;

test "handles are validated, and the detail is the failed call's" {
    try std.testing.expectEqual(@as(i32, -9), kho_close(0));
    try std.testing.expectEqual(@as(i32, -9), kho_close(12345));
    try std.testing.expect(std.mem.indexOf(u8, errors.detail(), "0x3039 is not an open arena") != null);
    try std.testing.expectEqual(@as(?[*]u8, null), kho_base(1));
    var out: u32 = 0;
    try std.testing.expectEqual(@as(i32, -22), kho_open(null, 0, 0, &out));
    try std.testing.expectEqualStrings("the path is null", errors.detail());
    const missing = "/nonexistent/dir/x.arena";
    try std.testing.expectEqual(@as(i32, -2), kho_open(missing, missing.len, 0, &out));
    try std.testing.expectEqual(@as(i32, -22), kho_open(missing, missing.len, 1 << 20, &out));
    try std.testing.expectEqualStrings("open: unknown flags 0x100000", errors.detail());
}
