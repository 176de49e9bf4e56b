//! For unit tests: a fresh directory under /tmp that `deinit` removes with
//! everything in it, and paths of files in it.

const std = @import("std");

pub const TestDir = struct {
    buf: [128]u8 = undefined,
    dir: []const u8 = "",
    name_buf: [256]u8 = undefined,

    /// Makes /tmp/kho-zig-test-<pid>-<tag>/ (removing a leftover first).
    pub fn init(self: *TestDir, tag: []const u8) !void {
        self.dir = try std.fmt.bufPrint(&self.buf, "/tmp/kho-zig-test-{d}-{s}", .{ std.os.linux.getpid(), tag });
        std.fs.deleteTreeAbsolute(self.dir) catch {};
        try std.fs.makeDirAbsolute(self.dir);
    }

    /// The path of `name` in the directory (valid until the next call).
    pub fn path(self: *TestDir, name: []const u8) ![]const u8 {
        return std.fmt.bufPrint(&self.name_buf, "{s}/{s}", .{ self.dir, name });
    }

    /// How many entries the directory holds.
    pub fn entries(self: *const TestDir) !usize {
        var d = try std.fs.openDirAbsolute(self.dir, .{ .iterate = true });
        defer d.close();
        var it = d.iterate();
        var n: usize = 0;
        while (try it.next()) |_| n += 1;
        return n;
    }

    pub fn deinit(self: *TestDir) void {
        std.fs.deleteTreeAbsolute(self.dir) catch |e| std.debug.panic("cannot remove {s}: {}", .{ self.dir, e });
    }
};
