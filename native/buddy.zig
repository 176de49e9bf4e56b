//! Buddy page allocator over page indices 0..npages.
//!
//! Blocks are power-of-two runs of pages ("orders"), aligned to their size.
//! Allocation and free are O(MAX_ORDER): free lists are intrusive doubly
//! linked lists over per-page metadata, so no call ever scans pages.
//! The metadata lives in process memory, never in the arena: a successor
//! rebuilds it from the preserved-memory map.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;
const anon = @import("anon.zig");
const zeroed = anon.zeroed;
const unmap = anon.unmap;

/// Largest block: 2^MAX_ORDER pages (4 TiB of 4 KiB pages).
pub const MAX_ORDER: u5 = 30;
/// Largest arena the allocator indexes, in pages.
pub const MAX_PAGES: u64 = 1 << 31;
const NIL: u32 = std.math.maxInt(u32);

pub const State = enum(u8) {
    /// Not the first page of a block.
    tail,
    /// First page of a free block.
    free,
    /// First page of a block owned by this process.
    allocated,
    /// First page of a block handed over by the predecessor and not claimed yet.
    handed_over,
    /// Never handed out (page 0: the arena header).
    reserved,
    /// Freed, but still part of the predecessor's published state: not
    /// reusable until that state is replaced (crash consistency).
    deferred,
};

pub const Stats = struct {
    free_pages: u64 = 0,
    allocated_pages: u64 = 0,
    preserved_pages: u64 = 0,
    preserved_blocks: u64 = 0,
    handed_over_pages: u64 = 0,
    handed_over_blocks: u64 = 0,
    deferred_pages: u64 = 0,
    allocations: u64 = 0,
};

pub const Buddy = struct {
    npages: u32,
    state: []State,
    order: []u8,
    preserved: []bool,
    next: []u32,
    prev: []u32,
    free_head: [MAX_ORDER + 1]u32 = [_]u32{NIL} ** (MAX_ORDER + 1),
    stats: Stats = .{},
    /// Fault injection: the allocation with this 1-based number fails (0 = off).
    fail_at: u64 = 0,
    /// Pages the block scans examined: a test of the work done, not of time.
    visits: u64 = 0,
    gpa: std.mem.Allocator,

    /// Creates metadata for `npages` pages, all marked `tail` (unusable) until
    /// `addFreeRange` or `setBlock` say otherwise. The per-page arrays come
    /// from the page allocator (fresh, zero-filled mappings), so that they
    /// cost nothing until touched: `tail`, order 0 and not preserved are all
    /// zero. `gpa` is kept for callers' own bookkeeping.
    pub fn init(gpa: std.mem.Allocator, npages: u64) Err!Buddy {
        if (npages < 2 or npages > MAX_PAGES) return Err.Invalid;
        const n: usize = @intCast(npages);
        const state = try zeroed(State, n);
        errdefer unmap(state);
        const order = try zeroed(u8, n);
        errdefer unmap(order);
        const preserved = try zeroed(bool, n);
        errdefer unmap(preserved);
        const next = try zeroed(u32, n);
        errdefer unmap(next);
        const prev = try zeroed(u32, n);
        comptime std.debug.assert(@intFromEnum(State.tail) == 0);
        return .{ .npages = @intCast(n), .state = state, .order = order, .preserved = preserved, .next = next, .prev = prev, .gpa = gpa };
    }

    pub fn deinit(self: *Buddy) void {
        unmap(self.state);
        unmap(self.order);
        unmap(self.preserved);
        unmap(self.next);
        unmap(self.prev);
        self.* = undefined;
    }

    /// Number of pages in a block of `order`.
    pub fn pagesOf(order: u8) u64 {
        return @as(u64, 1) << @intCast(order);
    }

    /// Smallest order whose block holds `npages` pages.
    pub fn orderFor(npages: u64) Err!u8 {
        if (npages == 0 or npages > pagesOf(MAX_ORDER)) {
            return errors.fail(Err.Invalid, "{d} pages is not a block size (1..{d} pages)", .{ npages, pagesOf(MAX_ORDER) });
        }
        const o = std.math.log2_int_ceil(u64, npages);
        return @intCast(o);
    }

    pub fn listPush(self: *Buddy, i: u32, order: u8) void {
        const first = self.free_head[order];
        self.next[i] = first;
        self.prev[i] = NIL;
        if (first != NIL) self.prev[first] = i;
        self.free_head[order] = i;
        self.state[i] = .free;
        self.order[i] = order;
        self.stats.free_pages += pagesOf(order);
    }

    fn listRemove(self: *Buddy, i: u32) void {
        std.debug.assert(self.state[i] == .free);
        const order = self.order[i];
        const n = self.next[i];
        const p = self.prev[i];
        if (p != NIL) self.next[p] = n else self.free_head[order] = n;
        if (n != NIL) self.prev[n] = p;
        self.state[i] = .tail;
        self.stats.free_pages -= pagesOf(order);
    }

    /// Marks [first, first+count) free, carving it into maximal aligned blocks.
    /// The range must not overlap any block already known.
    pub fn addFreeRange(self: *Buddy, first: u32, count: u32) void {
        var i: u64 = first;
        const end: u64 = @as(u64, first) + count;
        std.debug.assert(end <= self.npages);
        while (i < end) {
            var k: u8 = 0;
            while (k < MAX_ORDER) : (k += 1) {
                const size = pagesOf(k + 1);
                if (i % size != 0 or i + size > end) break;
            }
            self.listPush(@intCast(i), k);
            i += pagesOf(k);
        }
    }

    /// Marks a block as present with the given state (used to rebuild after a
    /// handover). The caller guarantees the range was validated and is unused.
    pub fn setBlock(self: *Buddy, first: u32, order: u8, state: State) void {
        std.debug.assert(state != .free and state != .tail);
        self.state[first] = state;
        self.order[first] = order;
        self.preserved[first] = false;
        const pages = pagesOf(order);
        switch (state) {
            .allocated => self.stats.allocated_pages += pages,
            .handed_over => {
                self.stats.handed_over_pages += pages;
                self.stats.handed_over_blocks += 1;
            },
            else => {},
        }
    }

    /// Allocates a block of `order`. Fails with NoMemory when no block is
    /// large enough or when fault injection says so.
    pub fn alloc(self: *Buddy, order: u8) Err!u32 {
        if (order > MAX_ORDER) return errors.fail(Err.Invalid, "alloc: order {d} is over the largest, {d}", .{ order, MAX_ORDER });
        self.stats.allocations += 1;
        if (self.fail_at != 0 and self.stats.allocations == self.fail_at) {
            return errors.fail(Err.NoMemory, "allocation {d} failed by fault injection", .{self.stats.allocations});
        }
        var k: u8 = order;
        while (k <= MAX_ORDER and self.free_head[k] == NIL) : (k += 1) {}
        if (k > MAX_ORDER) {
            return errors.fail(Err.NoMemory, "out of arena memory: no free block of {d} pages ({d} pages free in smaller blocks)", .{ pagesOf(order), self.stats.free_pages });
        }
        const i = self.free_head[k];
        self.listRemove(i);
        while (k > order) {
            k -= 1;
            self.listPush(i + @as(u32, @intCast(pagesOf(k))), k);
        }
        self.state[i] = .allocated;
        self.order[i] = order;
        self.preserved[i] = false;
        self.stats.allocated_pages += pagesOf(order);
        return i;
    }

    /// The order of the largest free block, or null when no page is free.
    pub fn largestFree(self: *const Buddy) ?u8 {
        var k: u8 = MAX_ORDER + 1;
        while (k > 0) {
            k -= 1;
            if (self.free_head[k] != NIL) return k;
        }
        return null;
    }

    /// Invalid unless `first` heads an allocated (not preserved: Busy),
    /// handed-over or deferred block: the blocks `free` takes.
    pub fn checkReleasable(self: *const Buddy, first: u32) Err!void {
        if (first >= self.npages) return Err.Invalid;
        switch (self.state[first]) {
            .allocated => if (self.preserved[first]) return Err.Busy,
            .handed_over, .deferred => {},
            else => return Err.Invalid,
        }
    }

    fn releasable(self: *const Buddy, first: u32) bool {
        if (first >= self.npages) return false;
        return switch (self.state[first]) {
            .allocated => !self.preserved[first],
            .handed_over, .deferred => true,
            else => false,
        };
    }

    /// Takes a block `checkReleasable` accepts out of the accounting; the
    /// caller then frees it or defers it.
    fn release(self: *Buddy, first: u32) void {
        const pages = pagesOf(self.order[first]);
        switch (self.state[first]) {
            .allocated => {
                std.debug.assert(!self.preserved[first]);
                self.stats.allocated_pages -= pages;
            },
            .handed_over => {
                self.stats.handed_over_pages -= pages;
                self.stats.handed_over_blocks -= 1;
            },
            .deferred => self.stats.deferred_pages -= pages,
            else => unreachable, // the caller checked (checkReleasable or its own assert)
        }
    }

    /// Like `free`, but the block is only parked (state `deferred`) until
    /// `free` is called on it again.
    pub fn deferFree(self: *Buddy, first: u32) Err!void {
        try self.checkReleasable(first);
        if (self.state[first] == .deferred) return Err.Invalid;
        self.deferValid(first);
    }

    /// `deferFree` of a block the caller knows is allocated (not preserved)
    /// or handed over.
    pub fn deferValid(self: *Buddy, first: u32) void {
        std.debug.assert(self.releasable(first) and self.state[first] != .deferred);
        self.release(first);
        self.state[first] = .deferred;
        self.stats.deferred_pages += pagesOf(self.order[first]);
    }

    /// Returns an allocated (not preserved), handed-over or deferred block
    /// to the free lists, merging with free buddies. Returns the page after
    /// the free block it ended up in (a scan resumes there: the pages before
    /// are free).
    pub fn free(self: *Buddy, first: u32) Err!u64 {
        try self.checkReleasable(first);
        return self.freeValid(first);
    }

    /// `free` of a block the caller knows `checkReleasable` accepts.
    pub fn freeValid(self: *Buddy, first: u32) u64 {
        std.debug.assert(self.releasable(first));
        self.release(first);
        var i: u64 = first;
        var k: u8 = self.order[first];
        self.state[first] = .tail;
        while (k < MAX_ORDER) : (k += 1) {
            const buddy = i ^ pagesOf(k);
            if (buddy + pagesOf(k) > self.npages) break;
            const b: u32 = @intCast(buddy);
            if (self.state[b] != .free or self.order[b] != k) break;
            self.listRemove(b);
            i = @min(i, buddy);
        }
        self.listPush(@intCast(i), k);
        return i + pagesOf(k);
    }

    /// The head page of the block starting at `first`, validated to be in `want`.
    pub fn head(self: *const Buddy, first: u64, want: State) Err!u32 {
        if (first >= self.npages) return Err.Invalid;
        const i: u32 = @intCast(first);
        if (self.state[i] != want) return if (self.state[i] == .tail or self.state[i] == .free) Err.Invalid else Err.NotFound;
        return i;
    }

    /// Sets the preserved mark of an allocated block: Invalid when it is
    /// not one, Exists (NotFound) when it is preserved (not preserved) already.
    pub fn setPreserved(self: *Buddy, first: u32, on: bool) Err!void {
        if (self.state[first] != .allocated) return Err.Invalid;
        if (self.preserved[first] == on) return if (on) Err.Exists else Err.NotFound;
        self.flipPreserved(first);
    }

    /// Flips the preserved mark of a block the caller knows is allocated.
    pub fn flipPreserved(self: *Buddy, first: u32) void {
        std.debug.assert(self.state[first] == .allocated);
        const on = !self.preserved[first];
        self.preserved[first] = on;
        const pages = pagesOf(self.order[first]);
        if (on) {
            self.stats.preserved_pages += pages;
            self.stats.preserved_blocks += 1;
        } else {
            self.stats.preserved_pages -= pages;
            self.stats.preserved_blocks -= 1;
        }
    }

    /// Claims a handed-over block: it becomes allocated (not preserved).
    pub fn claim(self: *Buddy, first: u32) void {
        std.debug.assert(self.state[first] == .handed_over);
        const pages = pagesOf(self.order[first]);
        self.stats.handed_over_pages -= pages;
        self.stats.handed_over_blocks -= 1;
        self.stats.allocated_pages += pages;
        self.state[first] = .allocated;
    }

    /// Next block head at or after `from` whose state is `want` (and, for
    /// `allocated`, whose preserved flag is set when `preserved_only`).
    pub fn nextBlock(self: *Buddy, from: u64, want: State, preserved_only: bool) ?u32 {
        return self.scan(from, .{ .one = want, .preserved_only = preserved_only });
    }

    const Match = struct { one: State, two: ?State = null, preserved_only: bool = false };

    /// The preserved blocks, in address order.
    pub fn preservedBlocks(self: *Buddy) Blocks {
        return .{ .buddy = self, .match = .{ .one = .allocated, .preserved_only = true } };
    }

    /// The blocks the predecessor's image still holds (handed over, deferred), in address order.
    pub fn heldBlocks(self: *Buddy) Blocks {
        return .{ .buddy = self, .match = .{ .one = .handed_over, .two = .deferred } };
    }

    /// A forward-only walk over block heads: each `next` resumes where the
    /// last one stopped, so a whole walk is one pass, bounded by npages.
    pub const Blocks = struct {
        buddy: *Buddy,
        match: Match,
        at: u64 = 1,

        pub fn next(self: *Blocks) ?u32 {
            const page = self.buddy.scan(self.at, self.match) orelse return null;
            self.at = page + pagesOf(self.buddy.order[page]);
            return page;
        }

        /// Resumes at `page` (never backwards), e.g. past the free block a
        /// freed block merged into.
        pub fn skipTo(self: *Blocks, page: u64) void {
            self.at = @max(self.at, page);
        }
    };

    /// Hops block by block from `from` (a block head, or 0): O(blocks), not
    /// O(pages). Callers resume from where they stopped, never from the start.
    fn scan(self: *Buddy, from: u64, m: Match) ?u32 {
        var i: u64 = from;
        while (i < self.npages) {
            self.visits += 1;
            const s = self.state[@intCast(i)];
            if (s == .tail) {
                i += 1;
                continue;
            }
            const wanted = s == m.one or (m.two != null and s == m.two.?);
            if (wanted and (!m.preserved_only or self.preserved[@intCast(i)])) return @intCast(i);
            i += pagesOf(self.order[@intCast(i)]);
        }
        return null;
    }
};
