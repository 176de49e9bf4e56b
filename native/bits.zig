//! Word-at-a-time range operations on a bitset (std's DynamicBitSetUnmanaged
//! sets ranges but cannot test them).

const std = @import("std");
const BitSet = std.DynamicBitSetUnmanaged;
const Mask = BitSet.MaskInt;
const BITS = @bitSizeOf(Mask);

/// The mask of `n` bits (1..BITS) starting at bit `shift` of a word.
fn rangeMask(shift: usize, n: usize) Mask {
    std.debug.assert(n >= 1 and shift + n <= BITS);
    const ones: Mask = if (n == BITS) ~@as(Mask, 0) else (@as(Mask, 1) << @intCast(n)) - 1;
    return ones << @intCast(shift);
}

/// Whether `holds(word, mask)` is true for every word of [start, start +
/// len), `mask` selecting the range's bits in `word`.
fn everyWord(bs: *const BitSet, start: usize, len: usize, comptime holds: fn (Mask, Mask) bool) bool {
    std.debug.assert(start + len <= bs.bit_length);
    var i = start;
    const end = start + len;
    // At most len / BITS + 2 words.
    while (i < end) {
        const shift = i % BITS;
        const n = @min(BITS - shift, end - i);
        if (!holds(bs.masks[i / BITS], rangeMask(shift, n))) return false;
        i += n;
    }
    return true;
}

fn allOf(word: Mask, mask: Mask) bool {
    return word & mask == mask;
}

fn noneOf(word: Mask, mask: Mask) bool {
    return word & mask == 0;
}

/// Whether every bit of [start, start + len) is set (true for an empty range).
pub fn allSet(bs: *const BitSet, start: usize, len: usize) bool {
    return everyWord(bs, start, len, allOf);
}

/// Whether any bit of [start, start + len) is set (false for an empty range).
pub fn anySet(bs: *const BitSet, start: usize, len: usize) bool {
    return !everyWord(bs, start, len, noneOf);
}

const testing = std.testing;

test "allSet over word edges" {
    var bs = try BitSet.initEmpty(testing.allocator, 300);
    defer bs.deinit(testing.allocator);
    bs.setRangeValue(.{ .start = 10, .end = 200 }, true);
    try testing.expect(allSet(&bs, 10, 190));
    try testing.expect(allSet(&bs, 63, 2));
    try testing.expect(allSet(&bs, 64, 64));
    try testing.expect(allSet(&bs, 0, 0));
    try testing.expect(!allSet(&bs, 9, 2));
    try testing.expect(!allSet(&bs, 199, 2));
    bs.unset(130);
    try testing.expect(!allSet(&bs, 10, 190));
    try testing.expect(allSet(&bs, 131, 69));
    try testing.expect(!anySet(&bs, 0, 10));
    try testing.expect(anySet(&bs, 0, 11));
    try testing.expect(anySet(&bs, 199, 100));
    try testing.expect(!anySet(&bs, 200, 100));
    try testing.expect(!anySet(&bs, 130, 1));
}
