//! The Linux system calls the arena file needs, each returning an error of
//! the one native set (errors.zig) with a detail naming the call and the
//! errno's words, and retrying EINTR a bounded number of times. Raw calls
//! (std.os.linux) keep the exact errno, which std.posix folds together.

const std = @import("std");
const linux = std.os.linux;
const posix = std.posix;
const E = posix.E;
const errors = @import("errors.zig");
const Err = errors.Err;

pub const Memory = []align(std.heap.page_size_min) u8;
const PAGE_SIZE = 4096;
/// How often a call interrupted by a signal is retried.
const EINTR_RETRIES = 64;

/// Runs a raw call until it is not interrupted; returns its result.
fn retry(comptime f: anytype, args: anytype) usize {
    var rc: usize = @call(.auto, f, args);
    var tries: usize = 0;
    while (posix.errno(rc) == .INTR and tries < EINTR_RETRIES) : (tries += 1) rc = @call(.auto, f, args);
    return rc;
}

/// The fd of a raw open, or its errno.
pub const Opened = union(enum) { fd: posix.fd_t, errno: E };

pub fn openatRaw(dir: posix.fd_t, path: [*:0]const u8, o: linux.O, mode: linux.mode_t) Opened {
    const rc = retry(linux.openat, .{ dir, path, o, mode });
    return switch (posix.errno(rc)) {
        .SUCCESS => .{ .fd = @intCast(rc) },
        else => |en| .{ .errno = en },
    };
}

/// openat; a failure reads "`what` `path`: <errno words>".
pub fn openat(dir: posix.fd_t, path: [*:0]const u8, o: linux.O, mode: linux.mode_t, comptime what: []const u8, shown: []const u8) Err!posix.fd_t {
    return switch (openatRaw(dir, path, o, mode)) {
        .fd => |fd| fd,
        .errno => |en| errors.failErrno(en, what ++ " {s}", .{shown}),
    };
}

/// Whether `name` exists in `dir` (a symlink counts, even a dangling one).
pub fn exists(dir: posix.fd_t, name: [*:0]const u8) bool {
    var st: linux.Stat = undefined;
    return posix.errno(linux.fstatat(dir, name, &st, linux.AT.SYMLINK_NOFOLLOW)) == .SUCCESS;
}

/// stat (or lstat with `nofollow`) of a path.
pub fn statPath(path: [*:0]const u8, nofollow: bool, shown: []const u8) Err!linux.Stat {
    var st: linux.Stat = undefined;
    const rc = linux.fstatat(linux.AT.FDCWD, path, &st, if (nofollow) linux.AT.SYMLINK_NOFOLLOW else 0);
    return switch (posix.errno(rc)) {
        .SUCCESS => st,
        else => |en| errors.failErrno(en, "open {s}", .{shown}),
    };
}

pub fn fstat(fd: posix.fd_t) Err!linux.Stat {
    var st: linux.Stat = undefined;
    return switch (posix.errno(linux.fstat(fd, &st))) {
        .SUCCESS => st,
        else => |en| errors.failErrno(en, "fstat", .{}),
    };
}

pub fn fchmod(fd: posix.fd_t, mode: linux.mode_t) Err!void {
    switch (posix.errno(linux.fchmod(fd, mode))) {
        .SUCCESS => {},
        else => |en| return errors.failErrno(en, "fchmod 0{o}", .{mode}),
    }
}

/// Takes the exclusive lock of a live holder (never waits for it).
pub fn lock(fd: posix.fd_t) Err!void {
    switch (posix.errno(retry(linux.flock, .{ fd, posix.LOCK.EX | posix.LOCK.NB }))) {
        .SUCCESS => {},
        .AGAIN => return errors.fail(Err.Busy, "the arena is held by a live process (it has the file locked)", .{}),
        else => |en| return errors.failErrno(en, "flock", .{}),
    }
}

pub fn ftruncate(fd: posix.fd_t, size: u64) Err!void {
    switch (posix.errno(retry(linux.ftruncate, .{ fd, @as(i64, @intCast(size)) }))) {
        .SUCCESS => {},
        else => |en| return errors.failErrno(en, "ftruncate to {d} bytes", .{size}),
    }
}

pub fn pwriteAll(fd: posix.fd_t, bytes: []const u8, off: u64) Err!void {
    const rc = retry(linux.pwrite, .{ fd, bytes.ptr, bytes.len, @as(i64, @intCast(off)) });
    switch (posix.errno(rc)) {
        .SUCCESS => if (rc != bytes.len) return errors.fail(Err.Io, "pwrite of {d} bytes at {d}: short write of {d}", .{ bytes.len, off, rc }),
        else => |en| return errors.failErrno(en, "pwrite of {d} bytes at {d}", .{ bytes.len, off }),
    }
}

pub fn preadAll(fd: posix.fd_t, buf: []u8, off: u64) Err!void {
    const rc = retry(linux.pread, .{ fd, buf.ptr, buf.len, @as(i64, @intCast(off)) });
    switch (posix.errno(rc)) {
        .SUCCESS => if (rc != buf.len) return errors.fail(Err.NotArena, "header: short read of {d} bytes", .{rc}),
        else => |en| return errors.failErrno(en, "pread of {d} bytes at {d}", .{ buf.len, off }),
    }
}

/// Moves `old` to `new` in `dir` unless `new` exists (Exists then).
/// Unsupported is reported as Invalid for the caller to fall back.
pub fn renameNoReplace(dir: posix.fd_t, old: [*:0]const u8, new: [*:0]const u8, shown: []const u8) Err!void {
    const RENAME_NOREPLACE = 1;
    switch (posix.errno(linux.renameat2(dir, old, dir, new, RENAME_NOREPLACE))) {
        .SUCCESS => {},
        .EXIST => return errors.fail(Err.Exists, "{s} already exists", .{shown}),
        else => |en| return errors.failErrno(en, "rename a temporary file to {s}", .{shown}),
    }
}

pub fn linkat(olddir: posix.fd_t, old: [*:0]const u8, newdir: posix.fd_t, new: [*:0]const u8, flags: u32, shown: []const u8) Err!void {
    switch (posix.errno(linux.linkat(olddir, old, newdir, new, @intCast(flags)))) {
        .SUCCESS => {},
        .EXIST => return errors.fail(Err.Exists, "{s} already exists", .{shown}),
        else => |en| return errors.failErrno(en, "link the new file as {s}", .{shown}),
    }
}

pub fn unlinkat(dir: posix.fd_t, name: [*:0]const u8) Err!void {
    switch (posix.errno(linux.unlinkat(dir, name, 0))) {
        .SUCCESS => {},
        else => |en| return errors.failErrno(en, "remove {s}", .{std.mem.sliceTo(name, 0)}),
    }
}

/// `struct statfs` of the 64-bit Linux ABIs (asm-generic and x86-64).
const Statfs = extern struct {
    type: i64,
    bsize: i64,
    blocks: u64,
    bfree: u64,
    bavail: u64,
    files: u64,
    ffree: u64,
    fsid: [2]i32,
    namelen: i64,
    frsize: i64,
    flags: i64,
    spare: [4]i64,
};
const has_statfs = switch (@import("builtin").cpu.arch) {
    .x86_64, .aarch64, .riscv64 => true,
    else => false,
};

/// Bytes an unprivileged user may still allocate on the filesystem of `fd`
/// (null where this build does not know the layout of `struct statfs`).
fn freeBytes(fd: posix.fd_t) Err!?u64 {
    if (!has_statfs) return null;
    var s: Statfs = undefined;
    switch (posix.errno(linux.syscall2(.fstatfs, @as(usize, @bitCast(@as(isize, fd))), @intFromPtr(&s)))) {
        .SUCCESS => {},
        else => |en| return errors.failErrno(en, "fstatfs", .{}),
    }
    const unit: u64 = @intCast(if (s.frsize > 0) s.frsize else s.bsize);
    return std.math.mul(u64, s.bavail, unit) catch std.math.maxInt(u64);
}

/// Gives a new file its `size` bytes, every block allocated: a full
/// filesystem is ENOSPC now, never SIGBUS later.
pub fn reserve(fd: posix.fd_t, size: u64) Err!void {
    if (try freeBytes(fd)) |free| if (free < size) {
        return errors.fail(Err.NoSpace, "the arena needs {d} bytes, the filesystem has {d} free (reserve: false skips the reservation)", .{ size, free });
    };
    return allocateBlocks(fd, size, "reserve {d} bytes for the arena", .{size});
}

/// Allocates every block of [0, size) of `fd` (the size grows to `size`).
fn allocateBlocks(fd: posix.fd_t, size: u64, comptime what: []const u8, args: anytype) Err!void {
    switch (posix.errno(retry(linux.fallocate, .{ fd, 0, 0, @as(i64, @intCast(size)) }))) {
        .SUCCESS => {},
        .OPNOTSUPP => {
            // No fallocate on this filesystem: write each page's first byte
            // back (a hole reads as zero), which allocates it.
            try ftruncate(fd, size);
            var off: u64 = 0;
            while (off < size) : (off += PAGE_SIZE) {
                var b: [1]u8 = undefined;
                try preadAll(fd, &b, off);
                try pwriteAll(fd, &b, off);
            }
        },
        else => |en| return errors.failErrno(en, what, args),
    }
}

/// At open: fills the holes of a file whose allocated bytes (`backed`)
/// fall short of its size, so that writing through the mapping never SIGBUSes.
pub fn fillHoles(fd: posix.fd_t, size: u64, backed: u64) Err!void {
    if (backed >= size) return;
    return allocateBlocks(fd, size, "the file has holes ({d} of {d} bytes backed) and filling them failed", .{ backed, size });
}

fn map(fd: posix.fd_t, size: u64, flags: linux.MAP) Err!Memory {
    const rc = linux.mmap(null, @intCast(size), linux.PROT.READ | linux.PROT.WRITE, flags, fd, 0);
    return switch (posix.errno(rc)) {
        .SUCCESS => @as([*]align(std.heap.page_size_min) u8, @ptrFromInt(rc))[0..@intCast(size)],
        else => |en| errors.failErrno(en, "mmap of {d} bytes", .{size}),
    };
}

/// The file's bytes, shared: stores reach the file.
pub fn mapShared(fd: posix.fd_t, size: u64) Err!Memory {
    return map(fd, size, .{ .TYPE = .SHARED });
}

/// A private, lazily backed copy-on-write view: an arena larger than RAM
/// maps, and nothing written to it reaches the file.
pub fn mapPrivate(fd: posix.fd_t, size: u64) Err!Memory {
    return map(fd, size, .{ .TYPE = .PRIVATE, .NORESERVE = true });
}
