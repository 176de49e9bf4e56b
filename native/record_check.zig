//! The records pass of kho_read_records (records.zig walked the chain):
//! each record's tag matched against the tag table (its id written out),
//! each record's u64 key checked unique. Keys that form an arithmetic
//! sequence (`base + i * step`, step non-zero, no wrap-around: the tokens
//! 0, 1, 2, ... a handover usually carries) are unique by construction and
//! need no index; with SEQUENCE they are checked that way, and the first
//! key off the sequence switches to the open-addressing index (the keys
//! before it inserted first), or, with no room for an index, asks for one.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const records = @import("records.zig");
const Params = records.Params;
const ReadFlags = records.ReadFlags;
const Scratch = records.Scratch;
const Block = records.Block;
const Tags = @import("tags.zig").Tags;
const key_index = @import("key_index.zig");

const PHYS_BASE = arena_mod.PHYS_BASE;

/// The outcome of a read: done, or the outputs are too small (nothing
/// claimed or written but the counts; call again with room for them).
pub const Outcome = enum { done, need_room };

/// Physical address of record `j` of block `b`.
fn recordAt(p: *const Params, b: Block, j: u64) u64 {
    if (p.flags & ReadFlags.ARRAY != 0) return p.head + j * p.record_size;
    return Arena.paOf(b.page) + records.HEADER_SIZE + j * p.record_size;
}

/// Records per block (an array is one run of all of them).
fn countOf(p: *const Params, b: Block) u64 {
    return if (p.flags & ReadFlags.ARRAY != 0) p.nrecords else b.count;
}

fn keyOf(p: *const Params, rec: []const u8) u64 {
    return std.mem.readInt(u64, rec[p.key_offset..][0..8], .little);
}

/// Where a record is, for failures.
const At = struct { block: u64, record: u64, pa: u64 };

/// The state of the key check: the sequence so far, or the index.
const Keys = struct {
    a: *Arena,
    p: *Params,
    s: *const Scratch,
    words: []i32,
    seed: u32,
    index: ?key_index.Index = null,
    base: u64 = 0,
    step: u64 = 0,

    /// Checks the key of record `at.record`; need_room when the keys left
    /// the sequence and the caller gave no index.
    fn check(self: *Keys, key: u64, at: At) Err!Outcome {
        const i = at.record;
        if (self.index == null) {
            if (i == 0) {
                self.base = key;
                return .done;
            }
            if (i == 1) self.step = self.stepTo(key);
            if (self.step != 0 and key == self.base +% i *% self.step) return .done;
            if (self.words.len == 0) return .need_room;
            self.startIndex(i);
        }
        return self.insert(key, at);
    }

    /// The step from the first key to `key` (the second), or 0 when the
    /// keys cannot be a sequence: the same key, or a last key past 2^64.
    fn stepTo(self: *const Keys, key: u64) u64 {
        if (key <= self.base) return 0;
        const step = key - self.base;
        const span = std.math.mul(u64, self.p.nrecords - 1, step) catch return 0;
        _ = std.math.add(u64, self.base, span) catch return 0;
        return step;
    }

    /// Switches to the index, inserting the keys of records 0..n-1 (unique: a sequence).
    fn startIndex(self: *Keys, n: u64) void {
        self.index = key_index.Index.init(self.words, self.p.index_slots);
        self.step = 0;
        self.reinsert(n);
    }

    fn insert(self: *Keys, key: u64, at: At) Err!Outcome {
        const ix = &self.index.?;
        switch (ix.insert(key, @intCast(at.record))) {
            .inserted => return .done,
            .present => |first| return records.failAt(self.p, .duplicate_key, Err.Corrupt, .{ .block = at.block, .record = at.record, .pa = at.pa + self.p.key_offset, .other = first }),
            .too_long => {
                // Keys that collide with the dense hash: rebuild once with the seed.
                std.debug.assert(ix.seed == 0); // the mixing hash never asks
                ix.reseed(self.seed);
                self.p.seed = self.seed;
                self.reinsert(at.record);
                return self.insert(key, at);
            },
        }
    }

    /// Inserts the keys of records 0..n-1 again (they are known to be unique).
    fn reinsert(self: *Keys, n: u64) void {
        const ix = &self.index.?;
        var i: u64 = 0;
        for (self.s.blocks.items) |b| {
            var j: u64 = 0;
            while (j < countOf(self.p, b) and i < n) : ({
                j += 1;
                i += 1;
            }) {
                const pa = recordAt(self.p, b, j);
                const rec = self.a.mem[@intCast(pa - PHYS_BASE)..][0..self.p.record_size];
                std.debug.assert(ix.insert(keyOf(self.p, rec), @intCast(i)) == .inserted);
            }
        }
    }
};

/// Checks every record's tag and key, in order; writes the tag ids (or,
/// given no room for them, only the one every record has) and the keys'
/// sequence or index. The caller's index is zero-filled (untouched
/// pages of a large one cost nothing).
pub fn check(a: *Arena, p: *Params, out: records.Outputs, s: *const Scratch, seed: u32) Err!Outcome {
    const check_tags = p.tag_size > 0;
    const check_keys = records.checksKeys(p);
    if (!check_tags and !check_keys) return .done;
    var tags: Tags = undefined;
    if (check_tags) tags = try Tags.init(a.gpa, &a.records_scratch.tags, out.tags, p.tag_size, p.tag_cap, p.ntags, p.flags & ReadFlags.OPEN_TAGS != 0);
    defer {
        if (check_tags) p.ntags = tags.n;
    }
    var keys = Keys{ .a = a, .p = p, .s = s, .words = out.index, .seed = seed };
    var uniform: ?u16 = null; // the first record's tag id, while every record has it
    if (check_keys and p.flags & ReadFlags.SEQUENCE == 0) keys.startIndex(0);
    var i: u64 = 0;
    for (s.blocks.items, 0..) |b, k| {
        var j: u64 = 0;
        while (j < countOf(p, b)) : ({
            j += 1;
            i += 1;
        }) {
            const pa = recordAt(p, b, j);
            const rec = a.mem[@intCast(pa - PHYS_BASE)..][0..p.record_size];
            const at = At{ .block = k, .record = i, .pa = pa };
            if (check_tags) {
                const id = try matchTag(p, &tags, rec, at);
                if (i == 0) uniform = id;
                if (uniform != null and id != uniform.?) {
                    if (out.ids.len == 0) return .need_room;
                    uniform = null;
                }
                if (out.ids.len > 0) out.ids[@intCast(i)] = id;
            }
            if (check_keys and try keys.check(keyOf(p, rec), at) == .need_room) return .need_room;
        }
    }
    if (uniform) |id| p.uniform_tag = id;
    if (check_keys and keys.index == null) {
        p.key_base = keys.base;
        p.key_step = if (p.nrecords <= 1) 1 else keys.step;
    }
    return .done;
}

/// The tag id of a record, or the failure of its tag.
fn matchTag(p: *Params, tags: *Tags, rec: []const u8, at: At) Err!u16 {
    switch (try tags.match(rec[p.tag_offset..][0..p.tag_size])) {
        .id => |id| return id,
        .miss => |m| return records.failAt(p, switch (m) {
            .no_nul => .tag_no_nul,
            .not_utf8 => .tag_not_utf8,
            .unknown => .tag_unknown,
            .full => .tags_full,
        }, Err.Corrupt, .{ .block = at.block, .record = at.record, .pa = at.pa + p.tag_offset }),
    }
}
