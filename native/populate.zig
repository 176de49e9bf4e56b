//! Populating regions in bulk: a successor's first read of a retrieved
//! region would otherwise take a page fault every 4 KiB. On Linux >= 5.14
//! one madvise(MADV_POPULATE_READ or _WRITE) maps a whole run of pages;
//! where the kernel does not know it (EINVAL), and on other systems, one
//! byte of each page is touched instead.

const std = @import("std");
const builtin = @import("builtin");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Extent = @import("extents.zig").Extent;

const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;

/// Flags of kho_populate (lib/kho/regions.ts mirrors them).
pub const PopulateFlags = struct {
    /// Populate for writing (the pages are made writable too), not only for reading.
    pub const WRITE: u32 = 1;
    pub const ALL: u32 = WRITE;
};

/// madvise advice values of Linux 5.14.
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;

/// Populates every region (`{ pa, npages }`, page-aligned, inside the
/// arena); adjacent regions are populated as one run.
pub fn populate(a: *Arena, regions: []const Extent, flags: u32) Err!void {
    if (flags & ~PopulateFlags.ALL != 0) return errors.fail(Err.Invalid, "populate: unknown flags 0x{x}", .{flags & ~PopulateFlags.ALL});
    const write = flags & PopulateFlags.WRITE != 0;
    if (write) try a.writable();
    for (regions, 0..) |r, k| try checkRegion(a, r, k);
    var k: usize = 0;
    // Bounded: each step consumes at least one region.
    while (k < regions.len) {
        const start = regions[k][0] - PHYS_BASE;
        var end = start + regions[k][1] * PAGE_SIZE;
        k += 1;
        while (k < regions.len and regions[k][0] - PHYS_BASE == end) : (k += 1) end += regions[k][1] * PAGE_SIZE;
        try run(a.mem[@intCast(start)..@intCast(end)], write);
    }
}

fn checkRegion(a: *const Arena, r: Extent, k: usize) Err!void {
    const pa = r[0];
    const pages = r[1];
    const inside = pa >= PHYS_BASE and (pa - PHYS_BASE) % PAGE_SIZE == 0 and pages > 0 and
        pa - PHYS_BASE < a.mem.len and pages <= (a.mem.len - (pa - PHYS_BASE)) / PAGE_SIZE;
    if (!inside) return errors.fail(Err.Invalid, "populate: region {d} (0x{x}, {d} pages) is not whole pages inside the arena", .{ k, pa, pages });
}

/// Populates one run of whole pages.
fn run(mem: []u8, write: bool) Err!void {
    if (builtin.os.tag == .linux) {
        const linux = std.os.linux;
        const advice: u32 = if (write) MADV_POPULATE_WRITE else MADV_POPULATE_READ;
        const rc = linux.madvise(mem.ptr, mem.len, advice);
        switch (std.posix.errno(rc)) {
            .SUCCESS => return,
            .INVAL => {}, // a kernel before 5.14: touch the pages
            else => |en| return errors.failErrno(en, "populate {d} bytes", .{mem.len}),
        }
    }
    touch(mem, write);
}

/// One byte of each page read (or, for writing, atomically added 0 to:
/// the page is written without changing what another thread writes).
pub fn touch(mem: []u8, write: bool) void {
    var off: usize = 0;
    while (off < mem.len) : (off += PAGE_SIZE) {
        const p: *u8 = &mem[off];
        if (write) {
            _ = @atomicRmw(u8, p, .Add, 0, .monotonic);
        } else {
            _ = @as(*volatile u8, p).*;
        }
    }
}
