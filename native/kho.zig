//! C ABI of the native layer: open arenas addressed by handles (handles.zig),
//! every entry point validating its arguments and returning 0 or a negated
//! Linux errno. Every entry point that can fail clears the error detail
//! first, so that kho_last_error always describes the call that just
//! failed. Single-threaded: callers serialize their calls.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Buddy = @import("buddy.zig").Buddy;

/// ABI version of this library; lib/kho/symbols.ts declares the same.
pub const ABI_VERSION: u32 = 5;

const abi = @import("abi.zig");
const gpa = abi.gpa;
const arenas = &abi.arenas;
const enter = abi.enter;
const ret = abi.ret;
const place = abi.place;

comptime {
    // The C ABI's other entry points.
    _ = @import("kho_records.zig");
    _ = @import("kho_memory.zig");
}

fn pathOf(ptr: ?[*]const u8, len: usize) Err![]const u8 {
    const p = ptr orelse return errors.fail(Err.Invalid, "the path is null", .{});
    if (len == 0) return errors.fail(Err.Invalid, "the path is empty", .{});
    if (len >= std.fs.max_path_bytes) return errors.fail(Err.NameTooLong, "the path has {d} bytes, the limit is {d}", .{ len, std.fs.max_path_bytes - 1 });
    const s = p[0..len];
    if (std.mem.indexOfScalar(u8, s, 0) != null) return errors.fail(Err.Invalid, "the path contains a NUL byte", .{});
    return s;
}

export fn kho_abi_version() u32 {
    return ABI_VERSION;
}

/// Copies the detail of the last failed call (what and where) into `out`;
/// returns its length (0 when it had none). With `out` null: the length.
export fn kho_last_error(out: ?[*]u8, len: usize) usize {
    const d = errors.detail();
    const o = out orelse return d.len;
    const n = @min(d.len, len);
    @memcpy(o[0..n], d[0..n]);
    return n;
}

/// An empty call: the cost of crossing the FFI boundary, for benchmarks.
export fn kho_noop() void {}

/// Creates an arena file of `size` bytes at `path` (which must not exist)
/// and writes its handle to `out`. The file appears under its name only
/// when complete; a failed create leaves no file.
export fn kho_create(path: ?[*]const u8, len: usize, size: u64, flags: u32, out: ?*u32) i32 {
    errors.clearDetail();
    return ret(create(path, len, size, flags, out));
}

fn create(path: ?[*]const u8, len: usize, size: u64, flags: u32, out: ?*u32) Err!void {
    const o = try place(u32, out);
    // Room for the handle first: once the file exists, storing it cannot fail.
    try arenas.reserve();
    o.* = arenas.add(try Arena.create(gpa, try pathOf(path, len), size, flags));
}

/// Opens the arena file at `path` and writes its handle to `out`.
export fn kho_open(path: ?[*]const u8, len: usize, flags: u32, out: ?*u32) i32 {
    errors.clearDetail();
    return ret(open(path, len, flags, out));
}

fn open(path: ?[*]const u8, len: usize, flags: u32, out: ?*u32) Err!void {
    const o = try place(u32, out);
    try arenas.reserve();
    o.* = arenas.add(try Arena.open(gpa, try pathOf(path, len), flags));
}

/// Unmaps, unlocks and closes an arena; its handle is dead from now on.
export fn kho_close(h: u32) i32 {
    _ = enter(h) catch |e| return errors.code(e);
    const a = arenas.remove(h) catch |e| return errors.code(e);
    a.close();
    return 0;
}

/// Start of the mapping (physical address phys_base), or null for a bad handle.
export fn kho_base(h: u32) ?[*]u8 {
    const a = enter(h) catch return null;
    return a.mem.ptr;
}

/// Size in bytes of the `Info` struct that kho_info writes (lib/kho/info.ts checks it).
export fn kho_info_size() usize {
    return @sizeOf(arena_mod.Info);
}

export fn kho_info(h: u32, out: ?*arena_mod.Info) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    const o = place(arena_mod.Info, out) catch |e| return errors.code(e);
    o.* = a.info();
    return 0;
}

/// Virtual address of `pa` in this process, or null when outside the arena.
export fn kho_phys_to_virt(h: u32, pa: u64) ?[*]u8 {
    const a = enter(h) catch return null;
    if (pa < arena_mod.PHYS_BASE or pa - arena_mod.PHYS_BASE >= a.mem.len) return null;
    return a.mem.ptr + @as(usize, @intCast(pa - arena_mod.PHYS_BASE));
}

fn outBlock(r: Err!arena_mod.Block, out: ?*[2]u64) i32 {
    const o = place([2]u64, out) catch |e| return errors.code(e);
    const b = r catch |e| return errors.code(e);
    o.* = .{ b.pa, b.npages };
    return 0;
}

/// Allocates a block of at least `size` bytes; writes `{pa, npages}` to
/// `out`. Flag 1 (ZERO): the block reads as zero.
export fn kho_alloc(h: u32, size: u64, flags: u32, out: ?*[2]u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return outBlock(a.alloc(size, flags), out);
}

/// Allocates and preserves a block of at least `size` bytes; writes
/// `{pa, npages}` to `out`. Flag 1 (ZERO): the block reads as zero.
export fn kho_alloc_preserve(h: u32, size: u64, flags: u32, out: ?*[2]u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return outBlock(a.allocPreserve(size, flags), out);
}

export fn kho_free(h: u32, pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.free(pa));
}

/// Frees the block at `pa` now, even when the published image lists it:
/// the caller guarantees that nothing in that image references it any
/// more. Its entry in the published preserved-memory map becomes a
/// tombstone first (one aligned store), so a crash afterwards finds the
/// block free. EBUSY for the map's own blocks and the published root;
/// EIO (SYNC only) when the tombstone was not flushed: the block is then
/// parked as kho_free would.
export fn kho_free_unreferenced(h: u32, pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.freeUnreferenced(pa));
}

export fn kho_unpreserve_free(h: u32, pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.unpreserveFree(pa));
}

export fn kho_preserve(h: u32, pa: u64, size: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.preserve(pa, size));
}

export fn kho_unpreserve(h: u32, pa: u64, size: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.unpreserve(pa, size));
}

/// Claims a handed-over block; writes its page count to `out`.
export fn kho_restore(h: u32, pa: u64, out: ?*u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    const o = place(u64, out) catch |e| return errors.code(e);
    o.* = a.restore(pa) catch |e| return errors.code(e);
    return 0;
}

export fn kho_restore_free(h: u32, pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.restoreFree(pa));
}

/// Writes the preserved-memory map and publishes `root_pa` (0: nothing).
/// EIO with SYNC after the commit point: published, but not flushed.
export fn kho_handover(h: u32, root_pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.handover(root_pa));
}

/// Gives up the predecessor's image: unpublishes it (the handover count is
/// kept) and frees its unclaimed blocks, its map and the deferred frees.
/// ENOENT when no incoming image is published.
export fn kho_discard_incoming(h: u32) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.discardIncoming());
}

/// Appends the allocated block at `pa` to the published image, crash-safely:
/// if this process dies before its own handover, the next opener finds the
/// block handed over. The block stays allocated to the caller. ENOENT when
/// nothing is published, EEXIST when the block is listed already.
export fn kho_attach(h: u32, pa: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(a.attach(pa));
}

/// Copies `len` bytes from `src_pa` to `dst_pa` (memcpy baseline for benchmarks).
export fn kho_copy(h: u32, dst_pa: u64, src_pa: u64, len: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    return ret(copy(a, dst_pa, src_pa, len));
}

fn copy(a: *Arena, dst_pa: u64, src_pa: u64, len: u64) Err!void {
    const base = arena_mod.PHYS_BASE;
    const size = a.mem.len;
    const inside = dst_pa >= base and src_pa >= base and dst_pa - base <= size and src_pa - base <= size and
        len <= size - (dst_pa - base) and len <= size - (src_pa - base);
    if (!inside) return errors.fail(Err.Invalid, "copy of {d} bytes from 0x{x} to 0x{x}: outside the arena", .{ len, src_pa, dst_pa });
    const d: usize = @intCast(dst_pa - base);
    const s: usize = @intCast(src_pa - base);
    const n: usize = @intCast(len);
    if ((d < s and d + n > s) or (s < d and s + n > d)) return errors.fail(Err.Invalid, "copy of {d} bytes from 0x{x} to 0x{x}: the ranges overlap", .{ len, src_pa, dst_pa });
    @memcpy(a.mem[d..][0..n], a.mem[s..][0..n]);
}

/// Fault injection: the `n`th allocation from now fails with ENOMEM (0 = off).
export fn kho_fail_alloc_after(h: u32, n: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    a.buddy.fail_at = if (n == 0) 0 else a.buddy.stats.allocations + n;
    return 0;
}

/// Fault injection: with SYNC, the `n`th msync from now fails with EIO (0 = off).
export fn kho_fail_sync_after(h: u32, n: u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    a.sync_fail_at = if (n == 0) 0 else a.syncs + n;
    return 0;
}

/// Region iterator: the first block at or after `from_pa` of `kind`
/// (0 = handed over and unclaimed, 1 = preserved, 2 = allocated, preserved or not).
/// Writes `{pa, npages}` to `out`; ENOENT when there is none.
export fn kho_next_region(h: u32, from_pa: u64, kind: u32, out: ?*[2]u64) i32 {
    const a = enter(h) catch |e| return errors.code(e);
    const o = place([2]u64, out) catch |e| return errors.code(e);
    const PAGE = arena_mod.PAGE_SIZE;
    const from = if (from_pa <= arena_mod.PHYS_BASE) 1 else (from_pa - arena_mod.PHYS_BASE) / PAGE + @intFromBool(from_pa % PAGE != 0);
    const page = switch (kind) {
        0 => a.buddy.nextBlock(from, .handed_over, false),
        1 => a.buddy.nextBlock(from, .allocated, true),
        2 => a.buddy.nextBlock(from, .allocated, false),
        else => return errors.code(errors.fail(Err.Invalid, "region kind {d}: want 0, 1 or 2", .{kind})),
    } orelse return errors.code(Err.NotFound);
    o.* = .{ Arena.paOf(page), Buddy.pagesOf(a.buddy.order[page]) };
    return 0;
}
