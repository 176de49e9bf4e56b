//! The open-addressing index of 64-bit keys that kho_read_records fills and
//! lib/format/token_index.ts (`TokenIndex`) then adopts and uses for
//! lookups. The layout is documented once, in token_index.ts; in short: a
//! power-of-two number of slots, each four i32 words `{ lo, hi, value + 1,
//! 0 }` (value + 1 = 0: empty), linear probing, at most half full. The home
//! slot is `(lo ^ hi * 0x9e3779b1) & mask` (dense keys 0, 1, 2, ... land in
//! consecutive slots) until a probe runs longer than MAX_PROBE; then the
//! table is rebuilt once with a seeded mixing hash. Both hashes are the
//! TypeScript ones, bit for bit (u32 wrapping arithmetic = Math.imul).

const std = @import("std");
const assert = std.debug.assert;

/// Probe length past which the dense hash is given up (token_index.ts MAX_PROBE).
pub const MAX_PROBE: u32 = 48;
/// Words per slot.
pub const SLOT_WORDS: usize = 4;

pub const Index = struct {
    /// The slots, `SLOT_WORDS` words each.
    words: []i32,
    mask: u32,
    /// 0: the dense hash; otherwise the seed of the mixing hash.
    seed: u32 = 0,
    size: u64 = 0,

    /// An index over `words` (zero-filled by the caller), `slots` a power of two.
    pub fn init(words: []i32, slots: u64) Index {
        assert(std.math.isPowerOfTwo(slots) and slots <= 1 << 31 and words.len == slots * SLOT_WORDS);
        return .{ .words = words, .mask = @intCast(slots - 1) };
    }

    pub fn home(self: *const Index, lo: u32, hi: u32) u32 {
        if (self.seed == 0) return (lo ^ (hi *% 0x9e3779b1)) & self.mask;
        var h: u32 = (lo ^ ((hi ^ self.seed) *% 0x9e3779b1)) *% 0x85ebca6b;
        h ^= h >> 15;
        h *%= 0xc2b2ae35;
        h ^= h >> 13;
        return h & self.mask;
    }

    /// What an insert found.
    pub const Found = union(enum) {
        /// Inserted.
        inserted,
        /// The key is there already, with this value; nothing changed.
        present: u32,
        /// The probe ran past MAX_PROBE with the dense hash: nothing
        /// inserted; rebuild with a seed, then insert again.
        too_long,
    };

    /// Where a probe for a key ended: its slot's first word, whether the
    /// key is there (else the slot is empty), and the probe's length.
    const Probe = struct { p: usize, found: bool, len: u32 };

    /// Probes from the key's home to the key or an empty slot. The table
    /// is at most half full, so the probe ends within `mask + 1` slots.
    fn probe(self: *const Index, lo: u32, hi: u32) Probe {
        var i = self.home(lo, hi);
        var n: u32 = 0;
        while (n <= self.mask) : (n += 1) {
            const p = @as(usize, i) * SLOT_WORDS;
            if (self.words[p + 2] == 0) return .{ .p = p, .found = false, .len = n };
            if (self.words[p] == @as(i32, @bitCast(lo)) and self.words[p + 1] == @as(i32, @bitCast(hi))) {
                return .{ .p = p, .found = true, .len = n };
            }
            i = (i + 1) & self.mask;
        }
        unreachable; // at most half full: an empty slot is always met
    }

    /// The value in the slot at word `p`. Wrapping: a caller's table that
    /// was not zero-filled gives nonsense, not a crash.
    fn valueAt(self: *const Index, p: usize) u32 {
        return @as(u32, @bitCast(self.words[p + 2])) -% 1;
    }

    /// Inserts `key` with `value` (< 2^31 - 1). The caller keeps the table
    /// at most half full.
    pub fn insert(self: *Index, key: u64, value: u32) Found {
        assert(value < std.math.maxInt(i32) and (self.size + 1) * 2 <= @as(u64, self.mask) + 1);
        const lo: u32 = @truncate(key);
        const hi: u32 = @truncate(key >> 32);
        const at = self.probe(lo, hi);
        if (at.found) return .{ .present = self.valueAt(at.p) };
        if (at.len > MAX_PROBE and self.seed == 0) return .too_long;
        self.words[at.p] = @bitCast(lo);
        self.words[at.p + 1] = @bitCast(hi);
        self.words[at.p + 2] = @intCast(value + 1);
        self.size += 1;
        return .inserted;
    }

    /// Empties the table and switches to the mixing hash with `seed` (odd, non-zero).
    pub fn reseed(self: *Index, seed: u32) void {
        assert(seed != 0);
        @memset(self.words, 0);
        self.size = 0;
        self.seed = seed;
    }

    /// The value of `key`, or null.
    pub fn get(self: *const Index, key: u64) ?u32 {
        const at = self.probe(@truncate(key), @truncate(key >> 32));
        return if (at.found) self.valueAt(at.p) else null;
    }
};

const testing = std.testing;

test "dense keys land in consecutive slots; duplicates are found" {
    var words = [_]i32{0} ** (32 * SLOT_WORDS);
    var ix = Index.init(&words, 32);
    for (0..8) |k| try testing.expectEqual(Index.Found.inserted, ix.insert(k, @intCast(k)));
    for (0..8) |k| try testing.expectEqual(@as(i32, @intCast(k + 1)), words[k * SLOT_WORDS + 2]);
    try testing.expectEqual(Index.Found{ .present = 3 }, ix.insert(3, 99));
    try testing.expectEqual(@as(?u32, 5), ix.get(5));
    try testing.expectEqual(@as(?u32, null), ix.get(1 << 40));
}

test "the hashes are the TypeScript ones" {
    var words = [_]i32{0} ** (1024 * SLOT_WORDS);
    var ix = Index.init(&words, 1024);
    // Values computed with token_index.ts (Math.imul) for these keys.
    try testing.expectEqual(@as(u32, (0x12345678 ^ (7 *% @as(u32, 0x9e3779b1))) & 1023), ix.home(0x12345678, 7));
    ix.reseed(0x2545f491);
    try testing.expectEqual(@as(u32, 67), ix.home(0x12345678, 7));
    try testing.expectEqual(@as(u32, 431), Index.init(&words, 1024).home(0x12345678, 7));
}

test "a long probe with the dense hash asks for a reseed" {
    var words = [_]i32{0} ** (256 * SLOT_WORDS);
    var ix = Index.init(&words, 256);
    // Keys with the same home slot: k * 256 (lo & mask = 0, hi = 0).
    var k: u64 = 0;
    while (k <= MAX_PROBE) : (k += 1) try testing.expectEqual(Index.Found.inserted, ix.insert(k * 256, @intCast(k)));
    try testing.expectEqual(Index.Found.too_long, ix.insert(k * 256, @intCast(k)));
    ix.reseed(12345 | 1);
    try testing.expectEqual(@as(u64, 0), ix.size);
    try testing.expectEqual(Index.Found.inserted, ix.insert(k * 256, @intCast(k)));
}
