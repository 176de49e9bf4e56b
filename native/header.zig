//! The arena header (page 0), as the arena file layout contract fixes it:
//! little-endian `magic "KHOARENA"`, `u32 version`, `u32 page_size`,
//! `u64 size`, `u64 phys_base`, `u64 fdt_pa`, `u64 mem_map_pa`,
//! `u64 handovers`. The journal record that updates the last three
//! atomically follows it (journal.zig).

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const buddy_mod = @import("buddy.zig");

pub const PAGE_SIZE: u64 = 4096;
pub const MAGIC = "KHOARENA";
pub const VERSION: u32 = 1;
/// Physical address of file offset 0.
pub const PHYS_BASE: u64 = 0x1_0000_0000;

/// Header field offsets.
pub const Hdr = struct {
    pub const magic = 0;
    pub const version = 8;
    pub const page_size = 12;
    pub const size = 16;
    pub const phys_base = 24;
    pub const fdt_pa = 32;
    pub const mem_map_pa = 40;
    pub const handovers = 48;
    pub const len = 56;
};

/// Whether `size` is a size an arena may have: whole pages, at least the
/// header page and one more, at most what the allocator indexes.
pub fn validSize(size: u64) bool {
    return size % PAGE_SIZE == 0 and size >= 2 * PAGE_SIZE and size / PAGE_SIZE <= buddy_mod.MAX_PAGES;
}

/// The header of a new arena of `size` bytes: nothing handed over yet.
pub fn initial(size: u64) [Hdr.len]u8 {
    var h = [_]u8{0} ** Hdr.len;
    @memcpy(h[Hdr.magic..][0..8], MAGIC);
    std.mem.writeInt(u32, h[Hdr.version..][0..4], VERSION, .little);
    std.mem.writeInt(u32, h[Hdr.page_size..][0..4], @intCast(PAGE_SIZE), .little);
    std.mem.writeInt(u64, h[Hdr.size..][0..8], size, .little);
    std.mem.writeInt(u64, h[Hdr.phys_base..][0..8], PHYS_BASE, .little);
    return h;
}

/// Checks a header read from a file of `file_size` bytes; returns the
/// arena size. Each refusal names the field and what was found.
pub fn validate(h: *const [Hdr.len]u8, file_size: u64) Err!u64 {
    if (std.mem.allEqual(u8, h[0..8], 0)) {
        return errors.fail(Err.NotArena, "header: the magic is zero: not an arena file", .{});
    }
    if (!std.mem.eql(u8, h[0..8], MAGIC)) {
        return errors.fail(Err.NotArena, "header: magic {s} at offset 0, want \"{s}\": not an arena file", .{ std.fmt.fmtSliceEscapeLower(h[0..8]), MAGIC });
    }
    const version = std.mem.readInt(u32, h[Hdr.version..][0..4], .little);
    if (version != VERSION) return errors.fail(Err.Version, "header: arena version {d}, this build reads version {d}", .{ version, VERSION });
    const page_size = std.mem.readInt(u32, h[Hdr.page_size..][0..4], .little);
    if (page_size != PAGE_SIZE) return errors.fail(Err.Corrupt, "header: page size {d}, want {d}", .{ page_size, PAGE_SIZE });
    const size = std.mem.readInt(u64, h[Hdr.size..][0..8], .little);
    if (size != file_size) return errors.fail(Err.Corrupt, "header: size {d} but the file has {d} bytes (truncated or extended?)", .{ size, file_size });
    const base = std.mem.readInt(u64, h[Hdr.phys_base..][0..8], .little);
    if (base != PHYS_BASE) return errors.fail(Err.Corrupt, "header: phys_base 0x{x}, want 0x{x}", .{ base, PHYS_BASE });
    if (!validSize(size)) return errors.fail(Err.Corrupt, "header: size {d} is not a valid arena size", .{size});
    return size;
}

const testing = std.testing;

test "a new header validates; each damaged field is named" {
    const size = 16 * PAGE_SIZE;
    var h = initial(size);
    try testing.expectEqual(size, try validate(&h, size));
    try testing.expectError(Err.Corrupt, validate(&h, size + PAGE_SIZE));
    try testing.expectEqualStrings("header: size 65536 but the file has 69632 bytes (truncated or extended?)", errors.detail());
    h[Hdr.version] = 2;
    try testing.expectError(Err.Version, validate(&h, size));
    h[0] = 'X';
    try testing.expectError(Err.NotArena, validate(&h, size));
    @memset(h[0..8], 0);
    try testing.expectError(Err.NotArena, validate(&h, size));
    try testing.expect(std.mem.indexOf(u8, errors.detail(), "zero") != null);
    try testing.expect(!validSize(PAGE_SIZE));
    try testing.expect(!validSize(3 * PAGE_SIZE + 1));
}
