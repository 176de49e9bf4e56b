//! Unit tests of records.zig: a valid chain read and claimed, every refusal
//! (with nothing claimed), the room protocol, open tags, arrays, reseeding.

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

const BLOCK = 8192;
const RECORD = 64;
const PER = (BLOCK - 16) / RECORD; // 127
const TAG = 48;

/// Room for the outputs of a read of up to 1024 records in 16 blocks.
const Out = struct {
    tags: [4 * TAG]u8 = [_]u8{0} ** (4 * TAG),
    ids: [1024]u16 = undefined,
    index: [2048 * 4]i32 = [_]i32{0} ** (2048 * 4),
    blocks: [32]u64 = undefined,

    fn outputs(self: *Out, p: *const Params) records.Outputs {
        @memset(&self.index, 0);
        return .{
            .tags = self.tags[0 .. @as(usize, p.tag_cap) * TAG],
            .ids = self.ids[0..@intCast(p.ids_len)],
            .index = self.index[0..@intCast(p.index_slots * 4)],
            .blocks = self.blocks[0..@intCast(p.block_cap * 2)],
        };
    }
};

fn params(head: u64, expected: u64, flags: u32) Params {
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

fn off(pa: u64) usize {
    return @intCast(pa - PHYS_BASE);
}

/// Writes a chain of `n` records (tag "memfd", key = 10 * i) in blocks of
/// PER; returns the block addresses.
fn writeChain(a: *Arena, n: u64, heads: []u64) !void {
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
fn handedOver(t: *TestDir, n: u64, heads: []u64) !*Arena {
    const path = try t.init("records");
    const a = try Arena.create(testing.allocator, path, 256 * PAGE_SIZE, 0);
    try writeChain(a, n, heads);
    try a.handover(heads[0]);
    a.close();
    return Arena.open(testing.allocator, path, 0);
}

fn known(out: *Out) void {
    @memcpy(out.tags[0..5], "memfd");
}

/// A handed-over chain of 300 records in 3 blocks, with room for the
/// outputs and "memfd" known.
const Fixture = struct {
    t: TestDir = .{},
    heads: [3]u64 = undefined,
    a: *Arena = undefined,
    out: Out = .{},

    fn init(self: *Fixture, n: u64) !void {
        self.a = try handedOver(&self.t, n, &self.heads);
        known(&self.out);
    }

    fn deinit(self: *Fixture) void {
        self.a.close();
        self.t.deinit();
    }
};

test "a valid chain: tag ids, every key indexed, blocks written, claimed" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = params(heads[0], 300, F.CLAIM);
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 3), p.nblocks);
    try testing.expectEqual(@as(u64, 300), p.nrecords);
    try testing.expectEqual(@as(u32, 0), p.seed); // dense keys kept the dense hash
    try testing.expectEqual(before - 3, a.info().handed_over_blocks);
    try testing.expectEqual(heads[1], out.blocks[2]);
    try testing.expectEqual(@as(u64, 300 - 2 * PER), out.blocks[5]);
    try testing.expect(std.mem.allEqual(u16, out.ids[0..300], 0));
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    try testing.expectEqual(@as(?u32, 299), ix.get(2990));
    try testing.expectEqual(@as(?u32, null), ix.get(2991));
}

test "outputs too small: the counts, nothing claimed" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = params(heads[0], 300, F.CLAIM);
    p.block_cap = 2;
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 3), p.nblocks);
    p = params(heads[0], 300, F.CLAIM);
    p.index_slots = 512;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(before, a.info().handed_over_blocks);
}

/// Expects the read to fail with `e` and `why`; nothing stays claimed.
fn expectRefused(a: *Arena, p: *Params, out: *Out, e: Err, why: Reason) !void {
    const before = a.info();
    try testing.expectError(e, records.read(a, p, out.outputs(p)));
    try testing.expectEqual(@intFromEnum(why), p.reason);
    const after = a.info();
    try testing.expectEqual(before.handed_over_blocks, after.handed_over_blocks);
    try testing.expectEqual(before.allocated_pages, after.allocated_pages);
}

test "every damage of the chain is refused, naming the block, before anything is claimed" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    const ph = a.phys();
    var p = params(heads[0], 300, F.CLAIM);
    p.max_blocks = 2;
    try expectRefused(a, &p, out, Err.NoSpace, .cap);
    try testing.expectEqual(heads[2], p.fail_pa);

    p = params(heads[0], 301, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .total);
    try testing.expectEqual(@as(u64, 300), p.fail_value);

    p = params(heads[0] + 8, 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .unaligned);
    p = params(PHYS_BASE + 255 * PAGE_SIZE, 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .outside);
    p = params(PAGE_SIZE, 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .outside);

    ph.writeU64(off(heads[2]), heads[1]); // the last block links back
    p = params(heads[0], 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .cycle);
    try testing.expectEqual(@as(u64, 3), p.fail_block);
    try testing.expectEqual(@as(u64, 1), p.fail_other);
    ph.writeU64(off(heads[2]), 0);

    ph.writeU64(off(heads[1]) + 8, PER + 1);
    p = params(heads[0], 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .count);
    try testing.expectEqual(heads[1] + 8, p.fail_pa);
    try testing.expectEqual(@as(u64, PER + 1), p.fail_value);
    ph.writeU64(off(heads[1]) + 8, PER);

    // A second read after the first damage: the seen pages were cleared.
    p = params(heads[0], 300, 0);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
}

test "every damaged record is refused, naming it, before anything is claimed" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    const rec = off(heads[1]) + 16 + 5 * RECORD; // record 132
    const cases = .{
        .{ "memf\x00", Reason.tag_unknown },
        .{ "\x00", Reason.tag_no_nul },
        .{ "\xff\xfe\x00", Reason.tag_not_utf8 },
    };
    inline for (cases) |c| {
        @memcpy(a.mem[rec..][0..c[0].len], c[0]);
        var p = params(heads[0], 300, F.CLAIM);
        try expectRefused(a, &p, out, Err.Corrupt, c[1]);
        try testing.expectEqual(@as(u64, PER + 5), p.fail_record);
        try testing.expectEqual(@as(u64, 1), p.fail_block);
        try testing.expectEqual(heads[1] + 16 + 5 * RECORD, p.fail_pa);
        @memcpy(a.mem[rec..][0..6], "memfd\x00");
    }
    @memset(a.mem[rec..][0..TAG], 'x');
    var p = params(heads[0], 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .tag_no_nul);
    @memcpy(a.mem[rec..][0..6], "memfd\x00");
    @memset(a.mem[rec + 6 ..][0 .. TAG - 6], 0);

    a.phys().writeU64(rec + 56, 10 * 7); // the key of record 7
    p = params(heads[0], 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .duplicate_key);
    try testing.expectEqual(@as(u64, 7), p.fail_other);
    try testing.expectEqual(heads[1] + 16 + 5 * RECORD + 56, p.fail_pa);
}

test "claim: a block that was not handed over is refused, and nothing changes" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    _ = try a.restore(heads[2]); // claimed by someone else already
    var p = params(heads[0], 300, F.CLAIM);
    try expectRefused(a, &p, out, Err.Corrupt, .not_handed_over);
    try testing.expectEqual(@as(u64, @intFromEnum(std.posix.E.NOENT)), p.fail_value);
    try testing.expectEqual(@as(u64, 2), p.fail_block);
    try testing.expectEqual(heads[2], p.fail_pa);
}

test "claim: a block smaller than the chain's blocks is refused and nothing changes" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-small");
    const a0 = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const pa = (try a0.allocPreserve(PAGE_SIZE, arena_mod.AllocFlags.ZERO)).pa;
    a0.phys().writeU64(off(pa) + 8, 1);
    @memcpy(a0.mem[off(pa) + 16 ..][0..6], "memfd\x00");
    try a0.handover(pa);
    a0.close();
    const a = try Arena.open(testing.allocator, path, 0);
    defer a.close();
    var out = Out{};
    known(&out);
    var p = params(pa, 1, F.CLAIM);
    try expectRefused(a, &p, &out, Err.Corrupt, .too_small);
    try testing.expectEqual(@as(u64, 1), p.fail_value);
    try testing.expectEqual(@as(u64, 1), a.info().handed_over_blocks); // still handed over
}

test "open tags are appended; parameters that disagree are Invalid" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-open");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var heads: [1]u64 = undefined;
    try writeChain(a, 3, &heads);
    const r1 = off(heads[0]) + 16 + RECORD;
    @memcpy(a.mem[r1..][0..6], "other\x00");
    var out = Out{};
    var p = params(heads[0], 3, F.OPEN_TAGS);
    p.ntags = 0;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u32, 2), p.ntags);
    try testing.expectEqualStrings("other", out.tags[TAG..][0..5]);
    try testing.expectEqualSlices(u16, &.{ 0, 1, 0 }, out.ids[0..3]);
    p = params(heads[0], 3, F.OPEN_TAGS);
    p.ntags = 0;
    p.tag_cap = 1;
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.tags_full), p.reason);

    p = params(heads[0], 3, 0);
    p.index_slots = 100;
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = params(heads[0], 3, 64);
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = params(heads[0], 3, F.ARRAY | F.CLAIM);
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = params(heads[0], 3, 0);
    p.seed = 2;
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
}

test "an array of records (no header) and keys that defeat the dense hash" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-array");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    const pa = (try a.alloc(BLOCK, 0)).pa;
    for (0..100) |i| {
        const r = off(pa) + i * RECORD;
        @memcpy(a.mem[r..][0..6], "memfd\x00");
        a.phys().writeU64(r + 56, i * 2048); // every key's dense home is slot 0
    }
    var out = Out{};
    known(&out);
    var p = params(pa, 100, F.ARRAY);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u32, 0x2545f491), p.seed);
    try testing.expectEqual(@as(u64, 1), p.nblocks);
    try testing.expectEqual(pa, out.blocks[0]);
    try testing.expectEqual(@as(u64, 100), out.blocks[1]);
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    ix.seed = p.seed;
    try testing.expectEqual(@as(?u32, 99), ix.get(99 * 2048));
    a.phys().writeU64(off(pa) + 99 * RECORD + 56, 5 * 2048);
    p = params(pa, 100, F.ARRAY);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 5), p.fail_other);
    p = params(PHYS_BASE + 63 * PAGE_SIZE, 100, F.ARRAY);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.outside), p.reason);
}

test "keys in a sequence need no index; off the sequence the index is asked for, then filled" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = params(heads[0], 300, F.SEQUENCE);
    p.index_slots = 0;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_base);
    try testing.expectEqual(@as(u64, 10), p.key_step);
    const last = off(heads[2]) + 16 + 45 * RECORD + 56; // record 299
    a.phys().writeU64(last, 7);
    p = params(heads[0], 300, F.SEQUENCE | F.CLAIM);
    p.index_slots = 0;
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(before, a.info().handed_over_blocks);
    p = params(heads[0], 300, F.SEQUENCE | F.CLAIM);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_step);
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    try testing.expectEqual(@as(?u32, 299), ix.get(7));
    try testing.expectEqual(@as(?u32, 298), ix.get(2980));
}

test "a duplicate off the sequence is found; keys that would wrap around are no sequence" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-seq");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var heads: [1]u64 = undefined;
    try writeChain(a, 4, &heads);
    const key = struct {
        fn at(h: u64, i: usize) usize {
            return off(h) + 16 + i * RECORD + 56;
        }
    }.at;
    a.phys().writeU64(key(heads[0], 3), 10); // 0, 10, 20, 10
    var out = Out{};
    known(&out);
    var p = params(heads[0], 4, F.SEQUENCE);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.duplicate_key), p.reason);
    try testing.expectEqual(@as(u64, 1), p.fail_other);
    const max = std.math.maxInt(u64);
    for (0..4) |i| a.phys().writeU64(key(heads[0], i), (max - 20) +% 10 * i); // the last one wraps
    p = params(heads[0], 4, F.SEQUENCE);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_step);
    for (0..4) |i| a.phys().writeU64(key(heads[0], i), max - 30 + 10 * i);
    p = params(heads[0], 4, F.SEQUENCE);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 10), p.key_step);
    try testing.expectEqual(max - 30, p.key_base);
}

test "records with one tag need no ids; mixed tags ask for room for them" {
    var f = Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    @memcpy(out.tags[TAG..][0..5], "other");
    var p = params(heads[0], 300, 0);
    p.ids_len = 0;
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.uniform_tag);
    @memcpy(a.mem[off(heads[2]) + 16 ..][0..6], "other\x00"); // record 254
    p = params(heads[0], 300, F.CLAIM);
    p.ids_len = 0;
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    p = params(heads[0], 300, F.CLAIM);
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(std.math.maxInt(u64), p.uniform_tag);
    try testing.expectEqual(@as(u16, 1), out.ids[254]);
    try testing.expectEqual(@as(u16, 0), out.ids[253]);
}
