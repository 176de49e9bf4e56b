//! The error set of the native layer and its C ABI codes (Linux errno values,
//! returned negated). lib/kho.ts maps the same numbers to typed errors.

pub const Err = error{
    /// EPERM: the operation is not allowed on this arena (read-only open).
    NotPermitted,
    /// ENOENT: no such region (not handed over, not preserved).
    NotFound,
    /// EIO: the operating system failed a read, write or sync.
    Io,
    /// ENOEXEC: the file is not an arena (bad magic).
    NotArena,
    /// EBADF: the handle does not name an open arena.
    BadHandle,
    /// ENOMEM: no block large enough, or an injected allocation fault.
    NoMemory,
    /// EBUSY: the region or the arena is in use (preserved, locked by a live process).
    Busy,
    /// EEXIST: already preserved, or the arena file already exists.
    Exists,
    /// EINVAL: a bad argument (unaligned, out of range, wrong state).
    Invalid,
    /// ENOSPC: too many arenas open, or the disk is full.
    NoSpace,
    /// EPROTO: the arena has a version this build does not read.
    Version,
    /// EBADMSG: the handed-over preserved-memory map is damaged.
    Corrupt,
};

/// Negated errno code of an error, as returned through the C ABI.
pub fn code(e: Err) i32 {
    return switch (e) {
        Err.NotPermitted => -1,
        Err.NotFound => -2,
        Err.Io => -5,
        Err.NotArena => -8,
        Err.BadHandle => -9,
        Err.NoMemory => -12,
        Err.Busy => -16,
        Err.Exists => -17,
        Err.Invalid => -22,
        Err.NoSpace => -28,
        Err.Version => -71,
        Err.Corrupt => -74,
    };
}

const std = @import("std");

/// Detail of the last error that has one (what and where), for callers to
/// show; cleared at the start of every entry point that sets it.
var detail_buf: [256]u8 = undefined;
var detail_len: usize = 0;

/// Records a detail message and returns `e`.
pub fn fail(e: Err, comptime fmt: []const u8, args: anytype) Err {
    const msg = std.fmt.bufPrint(&detail_buf, fmt, args) catch detail_buf[0..detail_buf.len];
    detail_len = msg.len;
    return e;
}

pub fn clearDetail() void {
    detail_len = 0;
}

/// The last detail message (empty when none).
pub fn detail() []const u8 {
    return detail_buf[0..detail_len];
}
