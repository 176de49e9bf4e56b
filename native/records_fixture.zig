//! Fixtures of the tests of records.zig: a handed-over chain of records
//! (64-byte records: a 48-byte tag, a u64 key at 56) and room for the
//! outputs of a read.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const records = @import("records.zig");
const Params = records.Params;
const Reason = records.Reason;
const F = records.ReadFlags;
const TestDir = @import("test_dir.zig").TestDir;
pub const BLOCK = 8192;
pub const RECORD = 64;
pub const PER = (BLOCK - 16) / RECORD; // 127
pub const TAG = 48;

/// Room for the outputs of a read of up to 1024 records in 16 blocks.
pub const Out = struct {
    tags: [4 * TAG]u8 = [_]u8{0} ** (4 * TAG),
    ids: [1024]u16 = undefined,
    index: [2048 * 4]i32 = [_]i32{0} ** (2048 * 4),
    blocks: [32]u64 = undefined,

    pub fn outputs(self: *Out, p: *const Params) records.Outputs {
        @memset(&self.index, 0);
        return .{
            .tags = self.tags[0 .. @as(usize, p.tag_cap) * TAG],
            .ids = self.ids[0..@intCast(p.ids_len)],
            .index = self.index[0..@intCast(p.index_slots * 4)],
            .blocks = self.blocks[0..@intCast(p.block_cap * 2)],
        };
    }
};

pub fn params(head: u64, expected: u64, flags: u32) Params {
    return std.mem.zeroInit(Params, .{
        .head = head,
        .expected = expected,
        .max_blocks = 16,
        .block_cap = 16,
        .index_slots = 2048,
        .ids_len = 1024,
        .block_size = BLOCK,
        .record_size = RECORD,
        .tag_offset = 0,
        .tag_size = TAG,
        .key_offset = 56,
        .flags = flags | F.EXPECT,
        .tag_cap = 4,
        .ntags = 1,
        .seed = 0x2545f491,
    });
}

pub fn off(pa: u64) usize {
    return @intCast(pa - PHYS_BASE);
}

/// Writes a chain of `n` records (tag "memfd", key = 10 * i) in blocks of
/// PER; returns the block addresses.
pub fn writeChain(a: *Arena, n: u64, heads: []u64) !void {
    const nblocks = (n + PER - 1) / PER;
    for (heads[0..nblocks]) |*h| h.* = (try a.allocPreserve(BLOCK, arena_mod.AllocFlags.ZERO)).pa;
    var i: u64 = 0;
    for (heads[0..nblocks], 0..) |h, k| {
        const count = @min(PER, n - i);
        a.phys().writeU64(off(h), if (k + 1 < nblocks) heads[k + 1] else 0);
        a.phys().writeU64(off(h) + 8, count);
        for (0..count) |j| {
            const r = off(h) + 16 + j * RECORD;
            @memcpy(a.mem[r..][0..5], "memfd");
            a.phys().writeU64(r + 56, 10 * i);
            i += 1;
        }
    }
}

/// An arena holding a handed-over chain of `n` records; `heads` gets its blocks.
pub fn handedOver(t: *TestDir, n: u64, heads: []u64) !*Arena {
    const path = try t.init("records");
    const a = try Arena.create(testing.allocator, path, 256 * PAGE_SIZE, 0);
    try writeChain(a, n, heads);
    try a.handover(heads[0]);
    a.close();
    return Arena.open(testing.allocator, path, 0);
}

pub fn known(out: *Out) void {
    @memcpy(out.tags[0..5], "memfd");
}

/// A handed-over chain of 300 records in 3 blocks, with room for the
/// outputs and "memfd" known.
pub const Fixture = struct {
    t: TestDir = .{},
    heads: [3]u64 = undefined,
    a: *Arena = undefined,
    out: Out = .{},

    pub fn init(self: *Fixture, n: u64) !void {
        self.a = try handedOver(&self.t, n, &self.heads);
        known(&self.out);
    }

    pub fn deinit(self: *Fixture) void {
        self.a.close();
        self.t.deinit();
    }
};

/// Expects the read to fail with `e` and `why`; nothing stays claimed.
pub fn expectRefused(a: *Arena, p: *Params, out: *Out, e: Err, why: Reason) !void {
    const before = a.info();
    try testing.expectError(e, records.read(a, p, out.outputs(p)));
    try testing.expectEqual(@intFromEnum(why), p.reason);
    const after = a.info();
    try testing.expectEqual(before.handed_over_blocks, after.handed_over_blocks);
    try testing.expectEqual(before.allocated_pages, after.allocated_pages);
}
