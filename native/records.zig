//! A generic reader of handed-over chains of fixed-size records, in one
//! pass, for kho_read_records: it knows block chains (SPEC: every block
//! starts with `{ u64 next; u64 count; }`, `count` records follow), not what
//! the records mean. It checks, in this order, before claiming anything:
//!
//! 1. the chain: each block page-aligned, inside the arena, not seen before
//!    (a cycle), within the block cap, its count in 1..per-block;
//! 2. the total against the owner's count;
//! 3. each record (record_check.zig): its tag field (a NUL-terminated
//!    string) one of the caller's known tags (or, open, a new well-formed
//!    one), and its u64 key unique (a sequence, or indexed in the caller's
//!    open-addressing table);
//!
//! then, asked to, claims every block (each checked handed over and large
//! enough before the first is claimed: a failure changes nothing). A failure is the check's Reason with the
//! block, record and physical address it concerns, so that the caller can
//! word it in its own terms. ARRAY reads one run of records with no block
//! header (luo-session-v3's file arrays), claiming nothing.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const arena_mod = @import("arena.zig");
const Arena = arena_mod.Arena;
const Buddy = @import("buddy.zig").Buddy;
const Tags = @import("tags.zig").Tags;
pub const Outcome = record_check.Outcome;
const key_index = @import("key_index.zig");
const record_check = @import("record_check.zig");

const PAGE_SIZE = arena_mod.PAGE_SIZE;
const PHYS_BASE = arena_mod.PHYS_BASE;
/// The block header: `{ u64 next; u64 count; }`.
pub const HEADER_SIZE: u64 = 16;

/// Flags of kho_read_records (lib/kho/records.ts mirrors them).
pub const ReadFlags = struct {
    /// Claim every block once everything is valid.
    pub const CLAIM: u32 = 1;
    /// `expected` is the owner's count: the total must equal it.
    pub const EXPECT: u32 = 2;
    /// `head` is one run of `expected` records, no block header, no chain.
    pub const ARRAY: u32 = 4;
    /// A tag not in the table is added to it (when well-formed) instead of refused.
    pub const OPEN_TAGS: u32 = 8;
    /// Keys are checked, and need no index while they form an arithmetic
    /// sequence (record_check.zig); past it, the index is filled (or, with
    /// no room for one, the read asks for it).
    pub const SEQUENCE: u32 = 16;
    pub const ALL: u32 = CLAIM | EXPECT | ARRAY | OPEN_TAGS | SEQUENCE;
};

/// Which check failed (0: none). lib/kho/records.ts mirrors the numbers.
pub const Reason = enum(u32) {
    none = 0,
    /// More blocks than `max_blocks` (NoSpace).
    cap = 1,
    /// A block address is not page-aligned.
    unaligned = 2,
    /// A block (or the array) is not inside the arena.
    outside = 3,
    /// A block links back to block `fail_other`.
    cycle = 4,
    /// A block's count (`fail_value`) is not in 1..per-block.
    count = 5,
    /// `fail_value` records in `nblocks` blocks, not `expected`.
    total = 6,
    /// A block was not handed over (`fail_value`: the errno a restore gives).
    not_handed_over = 7,
    /// A handed-over block of `fail_value` pages is smaller than a block.
    too_small = 8,
    /// A record's tag has no NUL in its field, or is empty.
    tag_no_nul = 9,
    /// A record's tag is not UTF-8.
    tag_not_utf8 = 10,
    /// A record's tag is not in the (closed) table.
    tag_unknown = 11,
    /// A new tag does not fit the (open) table.
    tags_full = 12,
    /// A record's key is the key of record `fail_other` too.
    duplicate_key = 13,
};

/// kho_read_records' parameters and results, one struct in the caller's
/// buffer (lib/kho/records.ts writes and reads it field by field, and
/// checks its size with kho_records_params_size).
pub const Params = extern struct {
    // In.
    head: u64,
    expected: u64,
    max_blocks: u64,
    /// Room in the blocks output, in blocks (`{ u64 pa; u64 count; }` each).
    block_cap: u64,
    /// Slots of the key index (a power of two); 0: keys are not checked.
    index_slots: u64,
    /// Room in the tag id output (one u16 per record). 0: none written;
    /// then, should the records' tags differ, the read asks for room.
    ids_len: u64,
    block_size: u32,
    record_size: u32,
    tag_offset: u32,
    /// Bytes of the tag field; 0: tags are not checked.
    tag_size: u32,
    key_offset: u32,
    flags: u32,
    /// Room in the tag table, in tags.
    tag_cap: u32,
    /// In: tags in the table. Out: with the ones added (OPEN_TAGS).
    ntags: u32,
    /// In: the seed of the mixing hash, should the index need it (odd).
    /// Out: 0 when the dense hash was kept, else that seed.
    seed: u32,
    /// Out: the check that failed.
    reason: u32,
    // Out.
    nblocks: u64,
    nrecords: u64,
    fail_block: u64,
    fail_record: u64,
    fail_pa: u64,
    fail_value: u64,
    fail_other: u64,
    /// With SEQUENCE: the keys are `key_base + i * key_step` (no index
    /// filled), or `key_step` is 0 (the index holds them).
    key_base: u64,
    key_step: u64,
    /// The tag id every record has, or maxInt(u64) when they differ (or
    /// there are none, or tags are not checked).
    uniform_tag: u64,
};

/// The caller's output buffers.
pub const Outputs = struct {
    tags: []u8,
    ids: []u16,
    index: []i32,
    blocks: []u64,
};

/// What kho_read_records keeps between calls (so that a call allocates
/// nothing once they have grown): the blocks met, the pages seen, the tag table's lengths and map.
pub const Scratch = struct {
    blocks: std.ArrayListUnmanaged(Block) = .{},
    seen: std.DynamicBitSetUnmanaged = .{},
    tags: Tags.Memory = .{},

    pub fn deinit(self: *Scratch, gpa: std.mem.Allocator) void {
        self.blocks.deinit(gpa);
        self.seen.deinit(gpa);
        self.tags.deinit(gpa);
    }
};

pub const Block = struct { page: u32, count: u32 };

/// Records a failure of check `why` and returns its error.
pub fn failAt(p: *Params, why: Reason, e: Err, at: struct { block: u64 = 0, record: u64 = 0, pa: u64, value: u64 = 0, other: u64 = 0 }) Err {
    p.reason = @intFromEnum(why);
    p.fail_block = at.block;
    p.fail_record = at.record;
    p.fail_pa = at.pa;
    p.fail_value = at.value;
    p.fail_other = at.other;
    return errors.fail(e, "records: {s} (block {d}, record {d}, at 0x{x}, value {d}, other {d})", .{ @tagName(why), at.block, at.record, at.pa, at.value, at.other });
}

/// Whether keys are checked.
pub fn checksKeys(p: *const Params) bool {
    return p.index_slots > 0 or p.flags & ReadFlags.SEQUENCE != 0;
}

fn perBlock(p: *const Params) u64 {
    return (p.block_size - HEADER_SIZE) / p.record_size;
}

/// Invalid (a caller's mistake, not damaged data) unless the geometry and
/// the buffers agree.
fn checkParams(a: *const Arena, p: *const Params, out: Outputs) Err!void {
    if (p.flags & ~ReadFlags.ALL != 0) return errors.fail(Err.Invalid, "records: unknown flags 0x{x}", .{p.flags & ~ReadFlags.ALL});
    const array = p.flags & ReadFlags.ARRAY != 0;
    if (array and p.flags & ReadFlags.CLAIM != 0) return errors.fail(Err.Invalid, "records: an array is not claimed", .{});
    if (array and p.flags & ReadFlags.EXPECT == 0) return errors.fail(Err.Invalid, "records: an array needs its count (EXPECT)", .{});
    if (p.flags & ReadFlags.CLAIM != 0) try a.writable();
    if (p.record_size == 0 or (!array and (p.block_size % PAGE_SIZE != 0 or p.block_size < HEADER_SIZE + p.record_size or p.block_size > a.mem.len))) {
        return errors.fail(Err.Invalid, "records: blocks of {d} bytes cannot hold records of {d}", .{ p.block_size, p.record_size });
    }
    if (p.tag_size > 0 and (@as(u64, p.tag_offset) + p.tag_size > p.record_size or p.tag_cap > 1 << 16 or p.ntags > p.tag_cap or out.tags.len != @as(u64, p.tag_cap) * p.tag_size)) {
        return errors.fail(Err.Invalid, "records: tag field {d}+{d} in records of {d}, table of {d}/{d} tags in {d} bytes", .{ p.tag_offset, p.tag_size, p.record_size, p.ntags, p.tag_cap, out.tags.len });
    }
    const bad_index = p.index_slots > 0 and (!std.math.isPowerOfTwo(p.index_slots) or p.index_slots > 1 << 31 or out.index.len != p.index_slots * key_index.SLOT_WORDS);
    if (checksKeys(p) and (@as(u64, p.key_offset) + 8 > p.record_size or bad_index)) {
        return errors.fail(Err.Invalid, "records: key at {d} in records of {d}, index of {d} slots in {d} words", .{ p.key_offset, p.record_size, p.index_slots, out.index.len });
    }
    if (out.ids.len != p.ids_len or out.blocks.len != p.block_cap * 2) return errors.fail(Err.Invalid, "records: output sizes disagree with the parameters", .{});
    if (p.seed & 1 == 0 and p.index_slots > 0) return errors.fail(Err.Invalid, "records: the seed {d} is not odd", .{p.seed});
}

/// Reads (and with CLAIM claims) the records at `p.head`; see the module comment.
pub fn read(a: *Arena, p: *Params, out: Outputs) Err!Outcome {
    p.reason = 0;
    p.nblocks = 0;
    p.nrecords = 0;
    p.key_base = 0;
    p.key_step = 0;
    p.uniform_tag = std.math.maxInt(u64);
    try checkParams(a, p, out);
    const seed = p.seed;
    p.seed = 0;
    const s = &a.records_scratch;
    s.blocks.clearRetainingCapacity();
    if (p.flags & ReadFlags.ARRAY != 0) try readArray(a, p) else try walk(a, p, s);
    const room = p.nblocks <= p.block_cap and (p.ids_len == 0 or p.nrecords <= p.ids_len) and
        (p.index_slots == 0 or p.nrecords * 2 <= p.index_slots);
    if (!room) return .need_room;
    if (try record_check.check(a, p, out, s, seed) == .need_room) return .need_room;
    if (p.flags & ReadFlags.CLAIM != 0) try claimAll(a, p, s.blocks.items);
    if (p.flags & ReadFlags.ARRAY != 0) {
        if (p.nblocks == 1) out.blocks[0..2].* = .{ p.head, p.nrecords };
        return .done;
    }
    for (s.blocks.items, 0..) |b, k| {
        out.blocks[2 * k] = Arena.paOf(b.page);
        out.blocks[2 * k + 1] = b.count;
    }
    return .done;
}

/// One run of `expected` records at `head` (any alignment), inside the arena.
fn readArray(a: *Arena, p: *Params) Err!void {
    if (p.expected == 0) return;
    const len = std.math.mul(u64, p.expected, p.record_size) catch std.math.maxInt(u64);
    if (p.head < PHYS_BASE + PAGE_SIZE or p.head - PHYS_BASE > a.mem.len or len > a.mem.len - (p.head - PHYS_BASE)) {
        return failAt(p, .outside, Err.Corrupt, .{ .pa = p.head, .value = p.expected });
    }
    // One entry stands for the run (recordAt addresses it from `head`).
    a.records_scratch.blocks.append(a.gpa, .{ .page = 0, .count = 0 }) catch return Err.NoMemory;
    p.nblocks = 1;
    p.nrecords = p.expected;
}

/// Walks the chain, checking each block before reading it; then the total.
fn walk(a: *Arena, p: *Params, s: *Scratch) Err!void {
    const npages = a.buddy.npages;
    if (s.seen.bit_length != npages) {
        s.seen.resize(a.gpa, npages, false) catch return Err.NoMemory;
    }
    defer for (s.blocks.items) |b| s.seen.unset(b.page);
    const per = perBlock(p);
    const limit = a.mem.len - p.block_size;
    var pa = p.head;
    var n: u64 = 0;
    var total: u64 = 0;
    // Bounded: at most max_blocks blocks, and each is seen once.
    while (pa != 0) : (n += 1) {
        if (n >= p.max_blocks) return failAt(p, .cap, Err.NoSpace, .{ .block = n, .pa = pa, .value = p.max_blocks });
        if (pa % PAGE_SIZE != 0) return failAt(p, .unaligned, Err.Corrupt, .{ .block = n, .pa = pa });
        if (pa < PHYS_BASE or pa - PHYS_BASE > limit) return failAt(p, .outside, Err.Corrupt, .{ .block = n, .pa = pa });
        const off = pa - PHYS_BASE;
        const page: u32 = @intCast(off / PAGE_SIZE);
        if (s.seen.isSet(page)) {
            // A page is seen only once it is in the list: it is found.
            var first: u64 = 0;
            while (s.blocks.items[first].page != page) first += 1;
            return failAt(p, .cycle, Err.Corrupt, .{ .block = n, .pa = pa, .other = first });
        }
        const count = a.phys().readU64(off + 8);
        if (count == 0 or count > per) return failAt(p, .count, Err.Corrupt, .{ .block = n, .pa = pa + 8, .value = count });
        s.blocks.append(a.gpa, .{ .page = page, .count = @intCast(count) }) catch return Err.NoMemory;
        s.seen.set(page);
        total += count;
        pa = a.phys().readU64(off);
    }
    p.nblocks = n;
    p.nrecords = total;
    if (p.flags & ReadFlags.EXPECT != 0 and total != p.expected) {
        return failAt(p, .total, Err.Corrupt, .{ .block = n, .pa = p.head, .value = total, .other = n });
    }
}

/// Claims every block: each must be a handed-over block of at least
/// `block_size` bytes, all checked before the first is claimed.
fn claimAll(a: *Arena, p: *Params, blocks: []const Block) Err!void {
    for (blocks, 0..) |b, k| {
        const pa = Arena.paOf(b.page);
        _ = a.buddy.head(b.page, .handed_over) catch |e| {
            return failAt(p, .not_handed_over, Err.Corrupt, .{ .block = k, .pa = pa, .value = @intFromEnum(errors.errnoOf(e)) });
        };
        const pages = Buddy.pagesOf(a.buddy.order[b.page]);
        if (pages * PAGE_SIZE < p.block_size) return failAt(p, .too_small, Err.Corrupt, .{ .block = k, .pa = pa, .value = pages });
    }
    for (blocks) |b| a.buddy.claim(b.page);
}
