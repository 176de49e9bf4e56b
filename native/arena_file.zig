//! The arena file on disk: created so that it appears under its name only
//! when complete (O_TMPFILE, then linkat), with its blocks reserved; opened
//! only when it is a regular file with one name that this user owns and
//! nobody else may access, in a directory where nobody else may rename or
//! replace it, checked before any call that could block.

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
pub const Names = struct {
    full: [posix.PATH_MAX:0]u8,
    dir: [posix.PATH_MAX:0]u8,
    base: [posix.NAME_MAX + 1:0]u8,

    pub fn init(path: []const u8) Err!Names {
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
    u.dir = try openDir(&u.names);
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

/// The directory of `names`, opened O_PATH and checked: a directory that
/// group or others may write is refused unless it has the sticky bit, for
/// anyone who may write it could rename or replace the arena file between
/// two checks (or after them) and have the service resume another state.
fn openDir(names: *const Names) Err!posix.fd_t {
    const dir = std.mem.sliceTo(&names.dir, 0);
    const fd = try sys.openat(linux.AT.FDCWD, &names.dir, .{ .PATH = true, .DIRECTORY = true, .CLOEXEC = true }, 0, "open the directory", dir);
    errdefer posix.close(fd);
    const m = (try sys.fstat(fd)).mode;
    if (m & 0o022 != 0 and m & linux.S.ISVTX == 0) {
        return errors.fail(Err.AccessDenied, "directory {s} has mode 0{o}: group or others may write it and it has no sticky bit, so they could rename or replace the arena file (chmod go-w or +t)", .{ dir, m & 0o7777 });
    }
    return fd;
}

/// Opens an existing arena file. Writable opens: a regular file (not a
/// symlink) with one name, owned by this user (unless ALLOW_OTHER_OWNER)
/// with no group or other permission bits, in a directory others cannot
/// rename it in (`openDir`), locked before its header is read, its holes
/// filled (unless SPARSE) so that no write into it can SIGBUS. READ_ONLY
/// opens: any regular file the caller can read, symlinks followed, no
/// lock, mapped privately and lazily (MAP_NORESERVE).
pub fn open(path: []const u8, flags: u32) Err!Mapped {
    const names = try Names.init(path);
    const ro = flags & Flags.READ_ONLY != 0;
    if (!ro) posix.close(try openDir(&names));
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
/// its owner, permission bits and number of names.
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
    // Another name (a hard link elsewhere) lets whoever holds it keep the
    // file, or reach it, after this service moved or removed it.
    if (st.nlink != 1) {
        return errors.fail(Err.AccessDenied, "the file has {d} names (hard links): an arena file must have one (remove the others)", .{st.nlink});
    }
}
