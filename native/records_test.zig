//! Unit tests of records.zig: a valid chain read and claimed, every refusal
//! of the chain and of a record (with nothing claimed), the room protocol.

const std = @import("std");
const testing = std.testing;
const Err = @import("errors.zig").Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
const records = @import("records.zig");
const Reason = records.Reason;
const F = records.ReadFlags;
const TestDir = @import("test_dir.zig").TestDir;
const fx = @import("records_fixture.zig");

test "a valid chain: tag ids, every key indexed, blocks written, claimed" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = fx.params(heads[0], 300, F.CLAIM);
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 3), p.nblocks);
    try testing.expectEqual(@as(u64, 300), p.nrecords);
    try testing.expectEqual(@as(u32, 0), p.seed); // dense keys kept the dense hash
    try testing.expectEqual(before - 3, a.info().handed_over_blocks);
    try testing.expectEqual(heads[1], out.blocks[2]);
    try testing.expectEqual(@as(u64, 300 - 2 * fx.PER), out.blocks[5]);
    try testing.expect(std.mem.allEqual(u16, out.ids[0..300], 0));
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    try testing.expectEqual(@as(?u32, 299), ix.get(2990));
    try testing.expectEqual(@as(?u32, null), ix.get(2991));
}

test "outputs too small: the counts, nothing claimed" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = fx.params(heads[0], 300, F.CLAIM);
    p.block_cap = 2;
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 3), p.nblocks);
    p = fx.params(heads[0], 300, F.CLAIM);
    p.index_slots = 512;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(before, a.info().handed_over_blocks);
}

test "every damage of the chain is refused, naming the block, before anything is claimed" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    const ph = a.phys();
    var p = fx.params(heads[0], 300, F.CLAIM);
    p.max_blocks = 2;
    try fx.expectRefused(a, &p, out, Err.NoSpace, .cap);
    try testing.expectEqual(heads[2], p.fail_pa);

    p = fx.params(heads[0], 301, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .total);
    try testing.expectEqual(@as(u64, 300), p.fail_value);

    p = fx.params(heads[0] + 8, 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .unaligned);
    p = fx.params(PHYS_BASE + 255 * PAGE_SIZE, 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .outside);
    p = fx.params(PAGE_SIZE, 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .outside);

    ph.writeU64(fx.off(heads[2]), heads[1]); // the last block links back
    p = fx.params(heads[0], 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .cycle);
    try testing.expectEqual(@as(u64, 3), p.fail_block);
    try testing.expectEqual(@as(u64, 1), p.fail_other);
    ph.writeU64(fx.off(heads[2]), 0);

    ph.writeU64(fx.off(heads[1]) + 8, fx.PER + 1);
    p = fx.params(heads[0], 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .count);
    try testing.expectEqual(heads[1] + 8, p.fail_pa);
    try testing.expectEqual(@as(u64, fx.PER + 1), p.fail_value);
    ph.writeU64(fx.off(heads[1]) + 8, fx.PER);

    // A second read after the first damage: the seen pages were cleared.
    p = fx.params(heads[0], 300, 0);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
}

test "every damaged record is refused, naming it, before anything is claimed" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    const rec = fx.off(heads[1]) + 16 + 5 * fx.RECORD; // record 132
    const cases = .{
        .{ "memf\x00", Reason.tag_unknown },
        .{ "\x00", Reason.tag_no_nul },
        .{ "\xff\xfe\x00", Reason.tag_not_utf8 },
    };
    inline for (cases) |c| {
        @memcpy(a.mem[rec..][0..c[0].len], c[0]);
        var p = fx.params(heads[0], 300, F.CLAIM);
        try fx.expectRefused(a, &p, out, Err.Corrupt, c[1]);
        try testing.expectEqual(@as(u64, fx.PER + 5), p.fail_record);
        try testing.expectEqual(@as(u64, 1), p.fail_block);
        try testing.expectEqual(heads[1] + 16 + 5 * fx.RECORD, p.fail_pa);
        @memcpy(a.mem[rec..][0..6], "memfd\x00");
    }
    @memset(a.mem[rec..][0..fx.TAG], 'x');
    var p = fx.params(heads[0], 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .tag_no_nul);
    @memcpy(a.mem[rec..][0..6], "memfd\x00");
    @memset(a.mem[rec + 6 ..][0 .. fx.TAG - 6], 0);

    a.phys().writeU64(rec + 56, 10 * 7); // the key of record 7
    p = fx.params(heads[0], 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .duplicate_key);
    try testing.expectEqual(@as(u64, 7), p.fail_other);
    try testing.expectEqual(heads[1] + 16 + 5 * fx.RECORD + 56, p.fail_pa);
}

test "claim: a block that was not handed over is refused, and nothing changes" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    _ = try a.restore(heads[2]); // claimed by someone else already
    var p = fx.params(heads[0], 300, F.CLAIM);
    try fx.expectRefused(a, &p, out, Err.Corrupt, .not_handed_over);
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
    a0.phys().writeU64(fx.off(pa) + 8, 1);
    @memcpy(a0.mem[fx.off(pa) + 16 ..][0..6], "memfd\x00");
    try a0.handover(pa);
    a0.close();
    const a = try Arena.open(testing.allocator, path, 0);
    defer a.close();
    var out = fx.Out{};
    fx.known(&out);
    var p = fx.params(pa, 1, F.CLAIM);
    try fx.expectRefused(a, &p, &out, Err.Corrupt, .too_small);
    try testing.expectEqual(@as(u64, 1), p.fail_value);
    try testing.expectEqual(@as(u64, 1), a.info().handed_over_blocks); // still handed over
}
