//! Unit tests of records.zig: open tag tables, arrays, keys in a sequence
//! or off it (the index asked for), tags all alike (no ids needed).

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

test "open tags are appended; parameters that disagree are Invalid" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-open");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var heads: [1]u64 = undefined;
    try fx.writeChain(a, 3, &heads);
    const r1 = fx.off(heads[0]) + 16 + fx.RECORD;
    @memcpy(a.mem[r1..][0..6], "other\x00");
    var out = fx.Out{};
    var p = fx.params(heads[0], 3, F.OPEN_TAGS);
    p.ntags = 0;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u32, 2), p.ntags);
    try testing.expectEqualStrings("other", out.tags[fx.TAG..][0..5]);
    try testing.expectEqualSlices(u16, &.{ 0, 1, 0 }, out.ids[0..3]);
    p = fx.params(heads[0], 3, F.OPEN_TAGS);
    p.ntags = 0;
    p.tag_cap = 1;
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.tags_full), p.reason);

    p = fx.params(heads[0], 3, 0);
    p.index_slots = 100;
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = fx.params(heads[0], 3, 64);
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = fx.params(heads[0], 3, F.ARRAY | F.CLAIM);
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
    p = fx.params(heads[0], 3, 0);
    p.seed = 2;
    try testing.expectError(Err.Invalid, records.read(a, &p, out.outputs(&p)));
}

test "an array of records (no header) and keys that defeat the dense hash" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-array");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    const pa = (try a.alloc(fx.BLOCK, 0)).pa;
    for (0..100) |i| {
        const r = fx.off(pa) + i * fx.RECORD;
        @memcpy(a.mem[r..][0..6], "memfd\x00");
        a.phys().writeU64(r + 56, i * 2048); // every key's dense home is slot 0
    }
    var out = fx.Out{};
    fx.known(&out);
    var p = fx.params(pa, 100, F.ARRAY);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u32, 0x2545f491), p.seed);
    try testing.expectEqual(@as(u64, 1), p.nblocks);
    try testing.expectEqual(pa, out.blocks[0]);
    try testing.expectEqual(@as(u64, 100), out.blocks[1]);
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    ix.seed = p.seed;
    try testing.expectEqual(@as(?u32, 99), ix.get(99 * 2048));
    a.phys().writeU64(fx.off(pa) + 99 * fx.RECORD + 56, 5 * 2048);
    p = fx.params(pa, 100, F.ARRAY);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 5), p.fail_other);
    p = fx.params(PHYS_BASE + 63 * PAGE_SIZE, 100, F.ARRAY);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.outside), p.reason);
}

test "keys in a sequence need no index; fx.off the sequence the index is asked for, then filled" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    var p = fx.params(heads[0], 300, F.SEQUENCE);
    p.index_slots = 0;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_base);
    try testing.expectEqual(@as(u64, 10), p.key_step);
    const last = fx.off(heads[2]) + 16 + 45 * fx.RECORD + 56; // record 299
    a.phys().writeU64(last, 7);
    p = fx.params(heads[0], 300, F.SEQUENCE | F.CLAIM);
    p.index_slots = 0;
    const before = a.info().handed_over_blocks;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(before, a.info().handed_over_blocks);
    p = fx.params(heads[0], 300, F.SEQUENCE | F.CLAIM);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_step);
    var ix = @import("key_index.zig").Index.init(&out.index, 2048);
    try testing.expectEqual(@as(?u32, 299), ix.get(7));
    try testing.expectEqual(@as(?u32, 298), ix.get(2980));
}

test "a duplicate fx.off the sequence is found; keys that would wrap around are no sequence" {
    var t = TestDir{};
    defer t.deinit();
    const path = try t.init("records-seq");
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    defer a.close();
    var heads: [1]u64 = undefined;
    try fx.writeChain(a, 4, &heads);
    const key = struct {
        fn at(h: u64, i: usize) usize {
            return fx.off(h) + 16 + i * fx.RECORD + 56;
        }
    }.at;
    a.phys().writeU64(key(heads[0], 3), 10); // 0, 10, 20, 10
    var out = fx.Out{};
    fx.known(&out);
    var p = fx.params(heads[0], 4, F.SEQUENCE);
    try testing.expectError(Err.Corrupt, records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@intFromEnum(Reason.duplicate_key), p.reason);
    try testing.expectEqual(@as(u64, 1), p.fail_other);
    const max = std.math.maxInt(u64);
    for (0..4) |i| a.phys().writeU64(key(heads[0], i), (max - 20) +% 10 * i); // the last one wraps
    p = fx.params(heads[0], 4, F.SEQUENCE);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.key_step);
    for (0..4) |i| a.phys().writeU64(key(heads[0], i), max - 30 + 10 * i);
    p = fx.params(heads[0], 4, F.SEQUENCE);
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 10), p.key_step);
    try testing.expectEqual(max - 30, p.key_base);
}

test "records with one tag need no ids; mixed tags ask for room for them" {
    var f = fx.Fixture{};
    try f.init(300);
    defer f.deinit();
    const a, const heads, const out = .{ f.a, f.heads, &f.out };
    @memcpy(out.tags[fx.TAG..][0..5], "other");
    var p = fx.params(heads[0], 300, 0);
    p.ids_len = 0;
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(@as(u64, 0), p.uniform_tag);
    @memcpy(a.mem[fx.off(heads[2]) + 16 ..][0..6], "other\x00"); // record 254
    p = fx.params(heads[0], 300, F.CLAIM);
    p.ids_len = 0;
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.need_room, try records.read(a, &p, out.outputs(&p)));
    p = fx.params(heads[0], 300, F.CLAIM);
    p.ntags = 2;
    try testing.expectEqual(records.Outcome.done, try records.read(a, &p, out.outputs(&p)));
    try testing.expectEqual(std.math.maxInt(u64), p.uniform_tag);
    try testing.expectEqual(@as(u16, 1), out.ids[254]);
    try testing.expectEqual(@as(u16, 0), out.ids[253]);
}
