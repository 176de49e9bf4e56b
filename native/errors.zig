//! The error set of the native layer. Every error is a Linux errno value
//! (std.posix.E), returned negated through the C ABI; lib/errors.ts maps the
//! same numbers through its one ERRORS table. A detail message (what failed
//! and where) goes with the error of the call that just failed: every
//! exported function clears it on entry.

const std = @import("std");
const E = std.posix.E;

pub const Err = error{
    /// EPERM: not allowed (a read-only open, a file owned by another user).
    NotPermitted,
    /// ENOENT: no such file, or no such region (not handed over, not preserved).
    NotFound,
    /// EIO: the operating system failed a read, write or sync.
    Io,
    /// ENOEXEC: the file is not an arena (bad magic, or too short).
    NotArena,
    /// EBADF: the handle does not name an open arena.
    BadHandle,
    /// ENOMEM: no free block large enough, an injected fault, or no process memory.
    NoMemory,
    /// EACCES: permission denied, or an arena file that group or others may access.
    AccessDenied,
    /// EBUSY: the region or the arena is in use (preserved, locked by a live process).
    Busy,
    /// EEXIST: already preserved or attached, or the arena file already exists.
    Exists,
    /// ENOTDIR: a component of the path is not a directory.
    NotDir,
    /// EISDIR: the path is a directory.
    IsDir,
    /// EINVAL: a bad argument (unaligned, out of range, wrong state), or not a regular file.
    Invalid,
    /// ENFILE: the system has too many open files.
    SystemFileLimit,
    /// EMFILE: this process has too many open files.
    ProcessFileLimit,
    /// EFBIG: the file is too large for the filesystem.
    FileTooBig,
    /// ENOSPC: the filesystem is full, or too many arenas are open.
    NoSpace,
    /// EROFS: the filesystem is mounted read-only.
    ReadOnlyFs,
    /// ENAMETOOLONG: the path or one of its names is too long.
    NameTooLong,
    /// ELOOP: the path is a symbolic link (or resolving it loops).
    SymLink,
    /// EPROTO: the arena has a version this build does not read.
    Version,
    /// EBADMSG: the handed-over preserved-memory map or header is damaged.
    Corrupt,
    /// EDQUOT: the user's disk quota is exhausted.
    Quota,
    /// EOVERFLOW: a counter is at its maximum (the header's handover count).
    Overflow,
};

/// The errno of each error: the one table of the native side.
pub fn errnoOf(e: Err) E {
    return switch (e) {
        Err.NotPermitted => .PERM,
        Err.NotFound => .NOENT,
        Err.Io => .IO,
        Err.NotArena => .NOEXEC,
        Err.BadHandle => .BADF,
        Err.NoMemory => .NOMEM,
        Err.AccessDenied => .ACCES,
        Err.Busy => .BUSY,
        Err.Exists => .EXIST,
        Err.NotDir => .NOTDIR,
        Err.IsDir => .ISDIR,
        Err.Invalid => .INVAL,
        Err.SystemFileLimit => .NFILE,
        Err.ProcessFileLimit => .MFILE,
        Err.FileTooBig => .FBIG,
        Err.NoSpace => .NOSPC,
        Err.ReadOnlyFs => .ROFS,
        Err.NameTooLong => .NAMETOOLONG,
        Err.SymLink => .LOOP,
        Err.Version => .PROTO,
        Err.Corrupt => .BADMSG,
        Err.Quota => .DQUOT,
        Err.Overflow => .OVERFLOW,
    };
}

/// Negated errno of an error, as returned through the C ABI.
pub fn code(e: Err) i32 {
    return -@as(i32, @intCast(@intFromEnum(errnoOf(e))));
}

/// The error of an errno a system call returned; one without its own
/// error here is Io (the caller's detail names the errno).
pub fn fromErrno(en: E) Err {
    inline for (@typeInfo(Err).error_set.?) |f| {
        const e = @field(Err, f.name);
        if (errnoOf(e) == en) return e;
    }
    return Err.Io;
}

/// Words for an errno in a detail message.
pub fn words(en: E) []const u8 {
    return switch (en) {
        .PERM => "operation not permitted",
        .NOENT => "no such file or directory",
        .ACCES => "permission denied",
        .EXIST => "already exists",
        .NOTDIR => "a component of the path is not a directory",
        .ISDIR => "is a directory",
        .NFILE => "too many open files in the system",
        .MFILE => "too many open files in this process",
        .FBIG => "file too large for the filesystem",
        .NOSPC => "no space left on the filesystem",
        .ROFS => "read-only file system",
        .NAMETOOLONG => "name too long",
        .LOOP => "too many levels of symbolic links",
        .DQUOT => "disk quota exceeded",
        .NOMEM => "out of memory",
        .IO => "I/O error",
        .BUSY => "device or resource busy",
        .NXIO => "no such device or address",
        .OPNOTSUPP => "not supported by the filesystem",
        else => @tagName(en),
    };
}

/// Detail of the last failed call (what and where), for callers to show.
var detail_buf: [1024]u8 = undefined;
var detail_len: usize = 0;

/// Records a detail message and returns `e`.
pub fn fail(e: Err, comptime fmt: []const u8, args: anytype) Err {
    const msg = std.fmt.bufPrint(&detail_buf, fmt, args) catch detail_buf[0..detail_buf.len];
    detail_len = msg.len;
    return e;
}

/// Records "`what`: <the errno's words>" and returns the errno's error.
pub fn failErrno(en: E, comptime what: []const u8, args: anytype) Err {
    return fail(fromErrno(en), what ++ ": {s} (errno {d})", args ++ .{ words(en), @intFromEnum(en) });
}

/// Adds to the detail of the error being reported (a second failure on
/// its cleanup path).
pub fn append(comptime fmt: []const u8, args: anytype) void {
    const msg = std.fmt.bufPrint(detail_buf[detail_len..], fmt, args) catch detail_buf[detail_len..];
    detail_len += msg.len;
}

pub fn clearDetail() void {
    detail_len = 0;
}

/// The last detail message (empty when none).
pub fn detail() []const u8 {
    return detail_buf[0..detail_len];
}

const testing = std.testing;

test "every error has its own errno and maps back to itself" {
    inline for (@typeInfo(Err).error_set.?) |f| {
        const e = @field(Err, f.name);
        try testing.expectEqual(e, fromErrno(errnoOf(e)));
        try testing.expect(code(e) < 0);
    }
    try testing.expectEqual(Err.Io, fromErrno(.XDEV));
    try testing.expectEqual(@as(i32, -13), code(Err.AccessDenied));
}

test "failErrno records the call and the errno's words" {
    const e = failErrno(.ROFS, "open {s}", .{"/x"});
    try testing.expectEqual(Err.ReadOnlyFs, e);
    try testing.expectEqualStrings("open /x: read-only file system (errno 30)", detail());
    clearDetail();
    try testing.expectEqualStrings("", detail());
}
