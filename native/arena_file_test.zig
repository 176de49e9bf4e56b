//! Unit tests of arena_file.zig: atomic creation, reservation, and the
//! checks of an open.

const std = @import("std");
const linux = std.os.linux;
const testing = std.testing;
const errors = @import("errors.zig");
const Err = errors.Err;
const Flags = @import("flags.zig").Flags;
const sys = @import("sys.zig");
const PAGE_SIZE = @import("header.zig").PAGE_SIZE;
const arena_file = @import("arena_file.zig");
const createUnnamed = arena_file.createUnnamed;
const open = arena_file.open;
const Mapped = arena_file.Mapped;
const Names = arena_file.Names;

const TestDir = @import("test_dir.zig").TestDir;
const SIZE = 16 * PAGE_SIZE;

fn createNamed(path: []const u8, flags: u32, use_tmpfile: bool) !Mapped {
    var u = try createUnnamed(path, SIZE, flags, use_tmpfile);
    errdefer u.discard();
    try u.link();
    return u.mapped;
}

test "create: named only when complete, 0600 whatever the umask, EEXIST leaves the file alone" {
    var t = TestDir{};
    _ = try t.init("create");
    defer t.deinit();
    const old_umask = linux.syscall1(.umask, 0o277);
    defer _ = linux.syscall1(.umask, old_umask);
    for ([_]bool{ true, false }) |use_tmpfile| {
        const path = try t.path(if (use_tmpfile) "a.arena" else "b.arena");
        var u = try createUnnamed(path, SIZE, 0, use_tmpfile);
        // Not under its name yet (the fallback's hidden name is the only entry).
        try testing.expect(!sys.exists(linux.AT.FDCWD, (try Names.init(path)).full[0..path.len :0]));
        try u.link();
        u.mapped.close();
        const st = try sys.statPath((try Names.init(path)).full[0..path.len :0], true, path);
        try testing.expectEqual(@as(u32, 0o600), st.mode & 0o777);
        try testing.expectEqual(@as(i64, SIZE), st.size);
        try testing.expect(@as(u64, @intCast(st.blocks)) * 512 >= SIZE);
        try testing.expectError(Err.Exists, createUnnamed(path, SIZE, 0, use_tmpfile));
    }
    try testing.expectEqual(@as(usize, 2), try t.entries());
}

test "create: a race between two unnamed files, exactly one gets the name" {
    var t = TestDir{};
    _ = try t.init("race");
    defer t.deinit();
    const path = try t.path("x.arena");
    var a = try createUnnamed(path, SIZE, 0, true);
    var b = try createUnnamed(path, SIZE, 0, false);
    try a.link();
    a.mapped.close();
    try testing.expectError(Err.Exists, b.link());
    try testing.expectEqual(@as(usize, 2), try t.entries()); // the name, and b's hidden file
    b.discard();
    try testing.expectEqual(@as(usize, 1), try t.entries());
}

test "create: a filesystem too small is ENOSPC up front and leaves nothing" {
    var t = TestDir{};
    _ = try t.init("nospc");
    defer t.deinit();
    const huge = (@import("buddy.zig").MAX_PAGES) * PAGE_SIZE;
    for ([_]bool{ true, false }) |use_tmpfile| {
        try testing.expectError(Err.NoSpace, createUnnamed(try t.path("big.arena"), huge, 0, use_tmpfile));
        try testing.expect(std.mem.indexOf(u8, errors.detail(), "the filesystem has") != null);
    }
    try testing.expectEqual(@as(usize, 0), try t.entries());
}

test "open: symlinks, FIFOs, directories, modes and owners are refused before any blocking call" {
    var t = TestDir{};
    _ = try t.init("open");
    defer t.deinit();
    const real = try createNamed(try t.path("real.arena"), 0, true);
    real.close();
    var names = try Names.init(try t.path("real.arena"));
    const real_z = names.full[0..std.mem.indexOfScalar(u8, &names.full, 0).? :0];
    try std.posix.symlink(real_z, try t.path("link.arena"));
    try testing.expectError(Err.SymLink, open(try t.path("link.arena"), 0));
    (try open(try t.path("link.arena"), Flags.READ_ONLY)).close();
    try std.posix.mkdir(try t.path("dir.arena"), 0o700);
    try testing.expectError(Err.IsDir, open(try t.path("dir.arena"), 0));
    try testing.expectError(Err.IsDir, open(try t.path("dir.arena"), Flags.READ_ONLY));
    var fifo = try Names.init(try t.path("fifo.arena"));
    _ = linux.mknodat(linux.AT.FDCWD, fifo.full[0..std.mem.indexOfScalar(u8, &fifo.full, 0).? :0], linux.S.IFIFO | 0o600, 0);
    try testing.expectError(Err.Invalid, open(try t.path("fifo.arena"), 0));
    try testing.expectEqualStrings("is a FIFO, not a regular file", errors.detail());
    try testing.expectError(Err.Invalid, open(try t.path("fifo.arena"), Flags.READ_ONLY));
    try testing.expectError(Err.Invalid, open("/dev/null", Flags.READ_ONLY));
    try testing.expectEqualStrings("is a character device, not a regular file", errors.detail());
    const fd = try std.posix.open(real_z, .{ .ACCMODE = .RDONLY }, 0);
    try std.posix.fchmod(fd, 0o640);
    try testing.expectError(Err.AccessDenied, open(real_z, 0));
    try testing.expectEqualStrings("mode 0640: group or others have access (an arena file must be 0600)", errors.detail());
    (try open(real_z, Flags.READ_ONLY)).close();
    try std.posix.fchmod(fd, 0o600);
    if (linux.geteuid() == 0) {
        try std.posix.fchown(fd, 65534, 65534);
        try testing.expectError(Err.NotPermitted, open(real_z, 0));
        try testing.expectEqualStrings("owned by uid 65534, this process runs as uid 0 (allowOtherOwner accepts it)", errors.detail());
        (try open(real_z, Flags.ALLOW_OTHER_OWNER)).close();
    }
    std.posix.close(fd);
    try testing.expectError(Err.NotFound, open(try t.path("missing.arena"), 0));
}

test "open: the holes of a sparse file are filled, unless SPARSE" {
    var t = TestDir{};
    _ = try t.init("holes");
    defer t.deinit();
    const path = try t.path("sparse.arena");
    (try createNamed(path, Flags.SPARSE, true)).close();
    var names = try Names.init(path);
    const z = names.full[0..path.len :0];
    try testing.expect(@as(u64, @intCast((try sys.statPath(z, true, path)).blocks)) * 512 < SIZE);
    (try open(path, Flags.SPARSE)).close();
    try testing.expect(@as(u64, @intCast((try sys.statPath(z, true, path)).blocks)) * 512 < SIZE);
    (try open(path, 0)).close();
    try testing.expect(@as(u64, @intCast((try sys.statPath(z, true, path)).blocks)) * 512 >= SIZE);
}

test "a directory others may write without the sticky bit is EACCES naming it; a second name is EACCES" {
    var t = TestDir{};
    _ = try t.init("dir-mode");
    defer t.deinit();
    var path_buf: [256]u8 = undefined;
    const path = try std.fmt.bufPrint(&path_buf, "{s}", .{try t.path("a.arena")}); // t.path reuses its buffer
    (try createNamed(path, 0, true)).close();
    var names = try Names.init(path);
    const z = names.full[0..path.len :0];
    const dir_z = names.dir[0..std.mem.indexOfScalar(u8, &names.dir, 0).? :0];
    for ([_]linux.mode_t{ 0o777, 0o775, 0o722 }) |mode| {
        try std.posix.fchmodat(linux.AT.FDCWD, dir_z, mode, 0);
        try testing.expectError(Err.AccessDenied, open(path, 0));
        try testing.expect(std.mem.indexOf(u8, errors.detail(), t.dir) != null);
        var buf: [128]u8 = undefined;
        const shown = try std.fmt.bufPrint(&buf, "has mode 0{o}: group or others may write it and it has no sticky bit", .{mode});
        try testing.expect(std.mem.indexOf(u8, errors.detail(), shown) != null);
        try testing.expectError(Err.AccessDenied, createUnnamed(try t.path("b.arena"), SIZE, 0, true));
        // Inspection reads; it is not refused.
        (try open(path, Flags.READ_ONLY)).close();
    }
    for ([_]linux.mode_t{ 0o1777, 0o755, 0o700 }) |mode| {
        try std.posix.fchmodat(linux.AT.FDCWD, dir_z, mode, 0);
        (try open(path, 0)).close();
    }
    // A second name for the file (a hard link).
    try std.posix.link(z, try t.path("other-name"));
    try testing.expectError(Err.AccessDenied, open(path, 0));
    try testing.expectEqualStrings("the file has 2 names (hard links): an arena file must have one (remove the others)", errors.detail());
    (try open(path, Flags.READ_ONLY)).close();
    try std.posix.unlink(try t.path("other-name"));
    (try open(path, 0)).close();
}
