//! The table of known tags kho_read_records matches records against: a
//! caller's buffer of `cap` fields of `size` bytes, each a NUL-terminated,
//! NUL-padded string of 1..size-1 bytes, the first `n` in use. A tag's id is
//! its position. Closed, an unknown tag is an error; open, a new
//! well-formed (UTF-8) tag is appended. The last tag matched is tried
//! first; past a few tags a hash map finds the others. The lengths and
//! the map are the caller's (kept between calls, so that a call allocates
//! nothing once they have grown).

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;

/// Up to this many tags, a miss of the last-matched tag searches the list.
const LINEAR = 16;

pub const Tags = struct {
    table: []u8,
    size: usize,
    cap: u32,
    n: u32,
    open: bool,
    /// Length of each tag in use (its NUL excluded).
    lens: *std.ArrayListUnmanaged(u8),
    /// Tag bytes → id, once there are more than LINEAR tags.
    map: *std.StringHashMapUnmanaged(u16),
    last: u32 = 0,
    /// The last tag matched and its NUL as words (the last one masked), for
    /// a compare of a few loads; `nwords` 0: too long, compared bytewise.
    last_words: [8]u64 = undefined,
    last_mask: u64 = 0,
    nwords: u32 = 0,
    gpa: std.mem.Allocator,

    /// What the table keeps between calls.
    pub const Memory = struct {
        lens: std.ArrayListUnmanaged(u8) = .{},
        map: std.StringHashMapUnmanaged(u16) = .{},

        pub fn deinit(self: *Memory, gpa: std.mem.Allocator) void {
            self.lens.deinit(gpa);
            self.map.deinit(gpa);
        }
    };

    /// Why a record's tag was refused.
    pub const Miss = enum { no_nul, not_utf8, unknown, full };

    /// The table over `table` (`cap` fields of `size` bytes, `n` in use);
    /// Invalid when a tag in use is not NUL-terminated or is empty.
    pub fn init(gpa: std.mem.Allocator, memory: *Memory, table: []u8, size: usize, cap: u32, n: u32, open: bool) Err!Tags {
        std.debug.assert(table.len == @as(usize, cap) * size and n <= cap and cap <= 1 << 16);
        memory.lens.clearRetainingCapacity();
        memory.map.clearRetainingCapacity();
        var self = Tags{ .table = table, .size = size, .cap = cap, .n = 0, .open = open, .lens = &memory.lens, .map = &memory.map, .gpa = gpa };
        var i: u32 = 0;
        while (i < n) : (i += 1) {
            const f = self.field(i);
            const len = std.mem.indexOfScalar(u8, f, 0) orelse 0;
            if (len == 0) return errors.fail(Err.Invalid, "tag table: tag {d} is empty or has no NUL within {d} bytes", .{ i, size });
            try self.add(f[0..len]);
        }
        if (self.n > 0) self.setLast(0);
        return self;
    }

    fn field(self: *const Tags, id: u32) []u8 {
        return self.table[@as(usize, id) * self.size ..][0..self.size];
    }

    /// Appends `tag` (1..size-1 bytes, already written in its field or copied there).
    fn add(self: *Tags, tag: []const u8) Err!void {
        const id = self.n;
        const f = self.field(id);
        if (f.ptr != tag.ptr) {
            @memcpy(f[0..tag.len], tag);
            @memset(f[tag.len..], 0);
        }
        self.lens.append(self.gpa, @intCast(tag.len)) catch return Err.NoMemory;
        self.n += 1;
        if (self.n == LINEAR + 1) {
            // From now on a map: put every tag so far in it.
            var k: u32 = 0;
            while (k < self.n) : (k += 1) try self.mapPut(k);
        } else if (self.n > LINEAR + 1) try self.mapPut(id);
    }

    fn mapPut(self: *Tags, id: u32) Err!void {
        self.map.put(self.gpa, self.field(id)[0..self.lens.items[id]], @intCast(id)) catch return Err.NoMemory;
    }

    /// Whether `f` (a record's tag field) holds tag `id` and its NUL.
    inline fn holds(self: *const Tags, f: []const u8, id: u32) bool {
        const len = self.lens.items[id];
        return f[len] == 0 and std.mem.eql(u8, f[0..len], self.field(id)[0..len]);
    }

    /// Makes `id` the tag tried first.
    fn setLast(self: *Tags, id: u32) void {
        self.last = id;
        const bytes = @as(usize, self.lens.items[id]) + 1; // with its NUL
        const n = (bytes + 7) / 8;
        self.nwords = if (n * 8 <= self.size and n <= self.last_words.len) @intCast(n) else 0;
        if (self.nwords == 0) return;
        var buf = [_]u8{0} ** 64;
        @memcpy(buf[0 .. bytes - 1], self.field(id)[0 .. bytes - 1]);
        for (self.last_words[0..n], 0..) |*w, k| w.* = std.mem.readInt(u64, buf[k * 8 ..][0..8], .little);
        const tail = bytes - 8 * (n - 1);
        self.last_mask = if (tail == 8) ~@as(u64, 0) else (@as(u64, 1) << @intCast(8 * tail)) - 1;
    }

    /// Whether field `f` holds the last tag matched (and its NUL).
    inline fn holdsLast(self: *const Tags, f: []const u8) bool {
        const n = self.nwords;
        if (n == 0) return self.holds(f, self.last);
        var k: usize = 0;
        while (k + 1 < n) : (k += 1) {
            if (std.mem.readInt(u64, f[k * 8 ..][0..8], .little) != self.last_words[k]) return false;
        }
        return std.mem.readInt(u64, f[k * 8 ..][0..8], .little) & self.last_mask == self.last_words[k];
    }

    /// The id of the tag in field `f` (`size` bytes), or why there is none.
    pub fn match(self: *Tags, f: []const u8) Err!union(enum) { id: u16, miss: Miss } {
        if (self.n > 0 and self.holdsLast(f)) return .{ .id = @intCast(self.last) };
        const len = std.mem.indexOfScalar(u8, f, 0) orelse 0;
        if (len == 0) return .{ .miss = .no_nul };
        const tag = f[0..len];
        const found: ?u32 = if (self.n <= LINEAR) blk: {
            var k: u32 = 0;
            while (k < self.n) : (k += 1) if (self.holds(f, k)) break :blk k;
            break :blk null;
        } else if (self.map.get(tag)) |id| id else null;
        if (found) |id| {
            self.setLast(id);
            return .{ .id = @intCast(id) };
        }
        if (!std.unicode.utf8ValidateSlice(tag)) return .{ .miss = .not_utf8 };
        if (!self.open) return .{ .miss = .unknown };
        if (self.n >= self.cap) return .{ .miss = .full };
        try self.add(tag);
        self.setLast(self.n - 1);
        return .{ .id = @intCast(self.last) };
    }
};

const testing = std.testing;

fn fieldOf(comptime s: []const u8) [16]u8 {
    var f = [_]u8{0} ** 16;
    @memcpy(f[0..s.len], s);
    return f;
}

test "closed: known tags match, unknown and malformed ones are refused" {
    var table = [_]u8{0} ** (4 * 16);
    @memcpy(table[0..4], "abcd");
    @memcpy(table[16..17], "x");
    var m = Tags.Memory{};
    defer m.deinit(testing.allocator);
    var t = try Tags.init(testing.allocator, &m, &table, 16, 4, 2, false);
    try testing.expectEqual(@as(u16, 0), (try t.match(&fieldOf("abcd"))).id);
    try testing.expectEqual(@as(u16, 1), (try t.match(&fieldOf("x"))).id);
    var junk = fieldOf("abcd");
    junk[10] = 7; // bytes after the NUL do not matter
    junk[6] = 9;
    try testing.expectEqual(@as(u16, 0), (try t.match(&junk)).id);
    try testing.expectEqual(@as(u16, 0), (try t.match(&junk)).id); // the last one, compared as words
    junk[4] = 'e'; // no NUL after "abcd"
    try testing.expectEqual(Tags.Miss.unknown, (try t.match(&junk)).miss);
    try testing.expectEqual(Tags.Miss.unknown, (try t.match(&fieldOf("abc"))).miss);
    try testing.expectEqual(Tags.Miss.no_nul, (try t.match(&fieldOf(""))).miss);
    try testing.expectEqual(Tags.Miss.no_nul, (try t.match(&([_]u8{'a'} ** 16))).miss);
    try testing.expectEqual(Tags.Miss.not_utf8, (try t.match(&fieldOf("\xff\xfe"))).miss);
}

test "open: new tags are appended until the table is full; many tags use the map" {
    var table = [_]u8{0} ** (40 * 16);
    var m = Tags.Memory{};
    defer m.deinit(testing.allocator);
    var t = try Tags.init(testing.allocator, &m, &table, 16, 40, 0, true);
    var name = fieldOf("tag-00");
    for (0..40) |i| {
        name[4] = '0' + @as(u8, @intCast(i / 10));
        name[5] = '0' + @as(u8, @intCast(i % 10));
        try testing.expectEqual(@as(u16, @intCast(i)), (try t.match(&name)).id);
    }
    try testing.expectEqual(@as(u32, 40), t.n);
    try testing.expectEqualStrings("tag-07", table[7 * 16 ..][0..6]);
    try testing.expectEqual(@as(u16, 7), (try t.match(&fieldOf("tag-07"))).id);
    try testing.expectEqual(Tags.Miss.full, (try t.match(&fieldOf("new"))).miss);
    var bad = [_]u8{0} ** 16;
    try testing.expectError(Err.Invalid, Tags.init(testing.allocator, &m, &bad, 16, 1, 1, false));
}
