//! The arena file on disk: created so that it appears under its name only
//! when complete (O_TMPFILE, then linkat), with its blocks reserved; opened
//! only when it is a regular file that this user owns and nobody else may
//! access, checked before any call that could block.

const std = @import("std");
const linux = std.os.linux;
const posix = std.posix;
const E = posix.E;
const errors = @import("errors.zig");
const Err = errors.Err;
const header = @import("header.zig");
const Flags = @import("flags.zig").Flags;
const sys = @import("sys.zig");

const PAGE_SIZE = header.PAGE_SIZE;
pub const Memory = []align(std.heap.page_size_min) u8;

/// An open, locked and mapped arena file.
pub const Mapped = struct {
    fd: posix.fd_t,
    mem: Memory,
    /// Every page but the header reads as zero and was never handed out
    /// (a file this process just created).
    fresh: bool,

    pub fn close(self: Mapped) void {
        posix.munmap(self.mem);
        posix.close(self.fd);
    }
};

/// A path split into the directory to create in and the name to create.
const Names = struct {
    full: [posix.PATH_MAX:0]u8,
    dir: [posix.PATH_MAX:0]u8,
    base: [posix.NAME_MAX + 1:0]u8,

    fn init(path: []const u8) Err!Names {
        var n: Names = undefined;
        if (path.len >= n.full.len) return errors.fail(Err.NameTooLong, "the path has {d} bytes, the limit is {d}", .{ path.len, n.full.len - 1 });
        if (path[path.len - 1] == '/') return errors.fail(Err.IsDir, "{s} ends with '/': it names a directory", .{path});
        const base = std.fs.path.basename(path);
        if (base.len > posix.NAME_MAX) return errors.fail(Err.NameTooLong, "the file name has {d} bytes, the limit is {d}", .{ base.len, posix.NAME_MAX });
        if (std.mem.eql(u8, base, ".") or std.mem.eql(u8, base, "..")) return errors.fail(Err.IsDir, "{s} names a directory", .{path});
        const dir = std.fs.path.dirname(path) orelse ".";
        copyZ(&n.full, path);
        copyZ(&n.dir, dir);
        copyZ(&n.base, base);
        return n;
    }

    fn copyZ(dst: anytype, src: []const u8) void {
        std.debug.assert(src.len < dst.len + 1);
        @memcpy(dst[0..src.len], src);
        dst[src.len] = 0;
    }
};

/// A complete arena file not linked under its name yet. `link` names it
/// (nothing can fail after that); `discard` removes every trace.
pub const Unnamed = struct {
    names: Names,
    dir: posix.fd_t,
    mapped: Mapped,
    /// When the filesystem refused O_TMPFILE: the hidden name it has meanwhile.
    hidden: ?[posix.NAME_MAX + 1:0]u8,

    /// Gives the file its name; Exists when the name was taken meanwhile
    /// (of concurrent creators exactly one wins; the loser calls `discard`).
    /// After it succeeds, `mapped` belongs to the caller and nothing else
    /// is left to do.
    pub fn link(self: *Unnamed) Err!void {
        const base: [*:0]const u8 = &self.names.base;
        const shown = std.mem.sliceTo(&self.names.full, 0);
        if (self.hidden) |*h| {
            try sys.renameNoReplace(self.dir, h, base, shown);
        } else {
            // "/proc/self/fd/" and any descriptor number fit.
            var proc: [64:0]u8 = undefined;
            const fd_path = std.fmt.bufPrintZ(&proc, "/proc/self/fd/{d}", .{self.mapped.fd}) catch
                return errors.fail(Err.NameTooLong, "descriptor {d}", .{self.mapped.fd});
            sys.linkat(linux.AT.FDCWD, fd_path, self.dir, base, linux.AT.SYMLINK_FOLLOW, shown) catch |e| {
                // No /proc: linking the descriptor itself needs CAP_DAC_READ_SEARCH.
                if (e != Err.NotFound) return e;
                try sys.linkat(self.mapped.fd, "", self.dir, base, linux.AT.EMPTY_PATH, shown);
            };
        }
        posix.close(self.dir);
    }

    /// Removes what a failed create made. The create's own error is what
    /// the caller gets; a temporary file that cannot be removed is named
    /// in its detail.
    pub fn discard(self: *Unnamed) void {
        if (self.hidden) |*h| sys.unlinkat(self.dir, h) catch {
            errors.append("; the temporary file {s} could not be removed", .{std.mem.sliceTo(h, 0)});
        };
        self.mapped.close();
        posix.close(self.dir);
    }
};

/// Creates the arena file of `size` bytes at `path` (which must not exist)
/// without a name: mode 0600 whatever the umask, locked, header written,
/// blocks reserved (unless SPARSE). `use_tmpfile` false takes the fallback
/// path (a hidden temporary name) that filesystems without O_TMPFILE get.
pub fn createUnnamed(path: []const u8, size: u64, flags: u32, use_tmpfile: bool) Err!Unnamed {
    std.debug.assert(header.validSize(size));
    var u = Unnamed{ .names = try Names.init(path), .dir = undefined, .mapped = undefined, .hidden = null };
    u.dir = try sys.openat(linux.AT.FDCWD, &u.names.dir, .{ .PATH = true, .DIRECTORY = true, .CLOEXEC = true }, 0, "open the directory of", path);
    errdefer posix.close(u.dir);
    if (sys.exists(u.dir, &u.names.base)) return errors.fail(Err.Exists, "{s} already exists", .{path});
    const fd = try makeFile(&u, use_tmpfile, path);
    errdefer {
        if (u.hidden) |*h| sys.unlinkat(u.dir, h) catch {
            errors.append("; the temporary file {s} could not be removed", .{std.mem.sliceTo(h, 0)});
        };
        posix.close(fd);
    }
    try sys.fchmod(fd, 0o600);
    try sys.lock(fd);
    const h = header.initial(size);
    if (flags & Flags.SPARSE != 0) try sys.ftruncate(fd, size) else try sys.reserve(fd, size);
    try sys.pwriteAll(fd, &h, 0);
    const mem = try sys.mapShared(fd, size);
    u.mapped = .{ .fd = fd, .mem = mem, .fresh = true };
    return u;
}

/// An unnamed file in the target directory, or one under a hidden name.
fn makeFile(u: *Unnamed, use_tmpfile: bool, path: []const u8) Err!posix.fd_t {
    if (use_tmpfile) {
        // O_TMPFILE is __O_TMPFILE | O_DIRECTORY in the C headers.
        const o: linux.O = .{ .ACCMODE = .RDWR, .TMPFILE = true, .DIRECTORY = true, .CLOEXEC = true };
        switch (sys.openatRaw(u.dir, ".", o, 0o600)) {
            .fd => |fd| return fd,
            // Filesystems (and kernels) without O_TMPFILE.
            .errno => |en| switch (en) {
                .OPNOTSUPP, .ISDIR, .INVAL => {},
                else => return errors.failErrno(en, "create an unnamed file in the directory of {s}", .{path}),
            },
        }
    }
    return hiddenFile(u, path);
}

/// Tries this many hidden names (a dead process's leftover may hold one).
const HIDDEN_TRIES = 16;
/// Numbers the hidden names of this process.
var hidden_serial: u32 = 0;

/// A new file under a hidden name `.<name>.<pid>.<n>.creating` in the target directory.
fn hiddenFile(u: *Unnamed, path: []const u8) Err!posix.fd_t {
    var name: [posix.NAME_MAX + 1:0]u8 = undefined;
    const base = std.mem.sliceTo(&u.names.base, 0);
    const o: linux.O = .{ .ACCMODE = .RDWR, .CREAT = true, .EXCL = true, .NOFOLLOW = true, .CLOEXEC = true };
    var tries: u32 = 0;
    while (tries < HIDDEN_TRIES) : (tries += 1) {
        hidden_serial +%= 1;
        // At most NAME_MAX - 40 bytes of the name and 40 for the rest.
        const hidden = std.fmt.bufPrintZ(&name, ".{s}.{d}.{d}.creating", .{ base[0..@min(base.len, posix.NAME_MAX - 40)], linux.getpid(), hidden_serial }) catch
            return errors.fail(Err.NameTooLong, "temporary name for {s}", .{path});
        switch (sys.openatRaw(u.dir, hidden, o, 0o600)) {
            .fd => |fd| {
                u.hidden = name;
                return fd;
            },
            .errno => |en| if (en != .EXIST) return errors.failErrno(en, "create a temporary file for {s}", .{path}),
        }
    }
    return errors.fail(Err.Exists, "create a temporary file for {s}: {d} hidden names taken", .{ path, HIDDEN_TRIES });
}

/// Opens an existing arena file. Writable opens: a regular file (not a
/// symlink) owned by this user (unless ALLOW_OTHER_OWNER) with no group or
/// other permission bits, locked before its header is read, its holes
/// filled (unless SPARSE) so that no write into it can SIGBUS. READ_ONLY
/// opens: any regular file the caller can read, symlinks followed, no
/// lock, mapped privately and lazily (MAP_NORESERVE).
pub fn open(path: []const u8, flags: u32) Err!Mapped {
    const names = try Names.init(path);
    const ro = flags & Flags.READ_ONLY != 0;
    // Refused before it is opened: opening a FIFO or a device can block or act.
    try checkFile(try sys.statPath(&names.full, !ro, path), flags);
    const o: linux.O = .{ .ACCMODE = if (ro) .RDONLY else .RDWR, .NOFOLLOW = !ro, .NONBLOCK = true, .CLOEXEC = true };
    const fd = try sys.openat(linux.AT.FDCWD, &names.full, o, 0, "open", path);
    errdefer posix.close(fd);
    // Checked again on what was opened: the path may name another file now.
    const st = try sys.fstat(fd);
    try checkFile(st, flags);
    if (!ro) try sys.lock(fd);
    const file_size: u64 = @intCast(st.size);
    var h: [header.Hdr.len]u8 = undefined;
    if (file_size < header.Hdr.len) return errors.fail(Err.NotArena, "header: the file has {d} bytes, less than the {d}-byte header", .{ file_size, header.Hdr.len });
    try sys.preadAll(fd, &h, 0);
    const size = try header.validate(&h, file_size);
    if (!ro and flags & Flags.SPARSE == 0) try sys.fillHoles(fd, size, @as(u64, @intCast(st.blocks)) * 512);
    const mem = if (ro) try sys.mapPrivate(fd, size) else try sys.mapShared(fd, size);
    return .{ .fd = fd, .mem = mem, .fresh = false };
}

/// The checks on the file itself: a regular file, and for writable opens
/// its owner and permission bits.
fn checkFile(st: linux.Stat, flags: u32) Err!void {
    const m = st.mode;
    const S = linux.S;
    if (S.ISLNK(m)) return errors.fail(Err.SymLink, "is a symlink", .{});
    if (S.ISDIR(m)) return errors.fail(Err.IsDir, "is a directory", .{});
    if (!S.ISREG(m)) {
        const kind = if (S.ISFIFO(m)) "a FIFO" else if (S.ISSOCK(m)) "a socket" else if (S.ISCHR(m)) "a character device" else if (S.ISBLK(m)) "a block device" else "not a regular file";
        return errors.fail(Err.Invalid, "is {s}, not a regular file", .{kind});
    }
    if (flags & Flags.READ_ONLY != 0) return;
    const euid = linux.geteuid();
    if (flags & Flags.ALLOW_OTHER_OWNER == 0 and st.uid != euid) {
        return errors.fail(Err.NotPermitted, "owned by uid {d}, this process runs as uid {d} (allowOtherOwner accepts it)", .{ st.uid, euid });
    }
    if (m & 0o077 != 0) {
        return errors.fail(Err.AccessDenied, "mode 0{o}: group or others have access (an arena file must be 0600)", .{m & 0o777});
    }
}

const testing = std.testing;
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
    try t.init("create");
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
    try t.init("race");
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
    try t.init("nospc");
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
    try t.init("open");
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
    try t.init("holes");
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
