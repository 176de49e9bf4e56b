//! The arena: a file mapped MAP_SHARED that plays "physical memory".
//! Page 0 is the header; physical address = phys_base + file offset.
//! Preserved blocks are listed in the preserved-memory map at handover; a
//! successor rebuilds its allocator from that map (loader.zig): listed
//! blocks are held (handed over) until restored, everything else is free.
//! The file itself: arena_file.zig; publishing: publish.zig and journal.zig.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const errors = @import("errors.zig");
const Err = errors.Err;
const buddy_mod = @import("buddy.zig");
const Buddy = buddy_mod.Buddy;
const memmap = @import("memmap.zig");
const publish = @import("publish.zig");
const header = @import("header.zig");
const arena_file = @import("arena_file.zig");
const bits = @import("bits.zig");
const loader = @import("loader.zig");
const sys = @import("sys.zig");
const records = @import("records.zig");
const listing = @import("listing.zig");
const info_mod = @import("info.zig");

pub const PAGE_SIZE: u64 = header.PAGE_SIZE;
pub const PHYS_BASE: u64 = header.PHYS_BASE;
pub const Flags = @import("flags.zig").Flags;
/// Byte pattern written over unpreserved pages in poison mode.
pub const POISON_BYTE: u8 = 0xa5;

/// Page accounting and header state, as kho_info writes it (info.zig).
pub const Info = info_mod.Info;

/// Flags of kho_alloc and kho_alloc_preserve.
pub const AllocFlags = struct {
    /// The block reads as zero.
    pub const ZERO: u32 = 1;
    pub const ALL: u32 = ZERO;
};

/// An allocated block: its physical address and size in pages.
pub const Block = struct { pa: u64, npages: u64 };

/// Whose preserved-memory map the header publishes.
pub const Source = enum { none, incoming, own };

pub const Arena = struct {
    fd: posix.fd_t,
    mem: arena_file.Memory,
    flags: u32,
    buddy: Buddy,
    /// Blocks of the predecessor's map (pages), held until the image is
    /// superseded by our own handover or discarded.
    incoming_map: std.ArrayListUnmanaged(u32) = .{},
    /// Blocks of the map written by our own last handover (pages), freed by the next one.
    own_map: std.ArrayListUnmanaged(u32) = .{},
    /// FDT address published by the predecessor (0: none, or superseded).
    incoming_fdt_pa: u64 = 0,
    /// Whose map the header currently publishes.
    source: Source = .none,
    /// Block heads listed in the currently published map. Freeing one only
    /// parks it (deferred): a crash before the image is superseded must find
    /// every listed block intact.
    listed: std.DynamicBitSetUnmanaged = .{},
    /// Where the published map lists each block, and its tombstones (listing.zig).
    listing: listing.Listing = .{},
    /// Pages never handed out since the file was created (they read as
    /// zero); empty for an arena opened, not created, by this process.
    fresh: std.DynamicBitSetUnmanaged = .{},
    /// Pages zero-filled by ZERO allocations (fresh ones need none).
    zeroed_pages: u64 = 0,
    /// What kho_read_records keeps between calls.
    records_scratch: records.Scratch = .{},
    /// msync calls made (SYNC flag), and fault injection: the one with this
    /// 1-based number fails (0 = off).
    syncs: u64 = 0,
    sync_fail_at: u64 = 0,
    gpa: std.mem.Allocator,

    pub fn phys(self: *const Arena) memmap.Phys {
        return .{ .mem = self.mem, .base = PHYS_BASE };
    }

    /// Creates a new arena file of `size` bytes at `path` (which must not
    /// exist); see arena_file.zig for how it appears only when complete.
    pub fn create(gpa: std.mem.Allocator, path: []const u8, size: u64, flags: u32) Err!*Arena {
        return createFile(gpa, path, size, flags, true);
    }

    /// `create`; `use_tmpfile` false takes the path of filesystems without O_TMPFILE.
    pub fn createFile(gpa: std.mem.Allocator, path: []const u8, size: u64, flags: u32, use_tmpfile: bool) Err!*Arena {
        if (flags & ~Flags.CREATE != 0) return errors.fail(Err.Invalid, "create: unknown flags 0x{x}", .{flags & ~Flags.CREATE});
        if (!header.validSize(size)) {
            return errors.fail(Err.Invalid, "create: size {d}: must be a multiple of {d} between {d} and {d}", .{ size, PAGE_SIZE, 2 * PAGE_SIZE, buddy_mod.MAX_PAGES * PAGE_SIZE });
        }
        var file = try arena_file.createUnnamed(path, size, flags, use_tmpfile);
        errdefer file.discard();
        const self = try init(gpa, file.mapped, flags);
        errdefer self.deinitState();
        self.buddy.addFreeRange(1, self.buddy.npages - 1);
        self.fresh = std.DynamicBitSetUnmanaged.initFull(gpa, self.buddy.npages) catch return Err.NoMemory;
        self.fresh.unset(0);
        try file.link();
        return self;
    }

    /// Opens an existing arena (see arena_file.zig for which files are
    /// accepted); rebuilds the allocator from the handed-over map.
    pub fn open(gpa: std.mem.Allocator, path: []const u8, flags: u32) Err!*Arena {
        if (flags & ~Flags.OPEN != 0) return errors.fail(Err.Invalid, "open: unknown flags 0x{x}", .{flags & ~Flags.OPEN});
        const mapped = try arena_file.open(path, flags);
        errdefer mapped.close();
        const self = try init(gpa, mapped, flags);
        errdefer self.deinitState();
        if (flags & Flags.DISCARD == 0) try loader.rebuild(self);
        loader.freeUncovered(self);
        return self;
    }

    /// The in-process state of a mapped file: allocator metadata, page 0 reserved.
    fn init(gpa: std.mem.Allocator, mapped: arena_file.Mapped, flags: u32) Err!*Arena {
        const npages = mapped.mem.len / PAGE_SIZE;
        var b = try Buddy.init(gpa, npages);
        errdefer b.deinit();
        b.setBlock(0, 0, .reserved);
        var listed = std.DynamicBitSetUnmanaged.initEmpty(gpa, npages) catch return Err.NoMemory;
        errdefer listed.deinit(gpa);
        const self = gpa.create(Arena) catch return Err.NoMemory;
        self.* = .{ .fd = mapped.fd, .mem = mapped.mem, .flags = flags, .buddy = b, .listed = listed, .gpa = gpa };
        return self;
    }

    /// Frees the in-process state; the mapping and the descriptor stay.
    fn deinitState(self: *Arena) void {
        self.listing.deinit(self.gpa);
        self.listed.deinit(self.gpa);
        self.fresh.deinit(self.gpa);
        self.records_scratch.deinit(self.gpa);
        self.incoming_map.deinit(self.gpa);
        self.own_map.deinit(self.gpa);
        self.buddy.deinit();
        self.gpa.destroy(self);
    }

    /// Unmaps, unlocks and closes. The file stays.
    pub fn close(self: *Arena) void {
        const mapped = arena_file.Mapped{ .fd = self.fd, .mem = self.mem, .fresh = false };
        self.deinitState();
        mapped.close();
    }

    pub fn writable(self: *const Arena) Err!void {
        if (self.flags & Flags.READ_ONLY != 0) return errors.fail(Err.NotPermitted, "the arena is open read-only", .{});
    }

    /// Page index of `pa`; Invalid when unaligned, the header page or outside.
    pub fn pageOf(self: *const Arena, pa: u64) Err!u32 {
        if (pa < PHYS_BASE or (pa - PHYS_BASE) % PAGE_SIZE != 0) return errors.fail(Err.Invalid, "0x{x} is not a page address", .{pa});
        const page = (pa - PHYS_BASE) / PAGE_SIZE;
        if (page == 0) return errors.fail(Err.Invalid, "0x{x} is the arena header's page", .{pa});
        if (page >= self.buddy.npages) return errors.fail(Err.Invalid, "0x{x} is outside the arena (its last page is 0x{x})", .{ pa, paOf(self.buddy.npages - 1) });
        return @intCast(page);
    }

    /// What the page at `page` is, in words for an error detail.
    pub fn stateWords(self: *const Arena, page: u32) []const u8 {
        return switch (self.buddy.state[page]) {
            .tail => "inside a block, not its first page",
            .free => "free",
            .allocated => if (self.buddy.preserved[page]) "a preserved block of this process" else "a block of this process (allocated, or restored already)",
            .handed_over => "a handed-over block not restored yet",
            .reserved => "the arena header's page",
            .deferred => "freed already (parked until this process hands over)",
        };
    }

    /// The head page of the block at `pa`, which must be in state `want`:
    /// Invalid for a page that heads no block, NotFound for a block in
    /// another state, the detail naming `op`, the address and what it is.
    pub fn headIn(self: *const Arena, pa: u64, want: buddy_mod.State, comptime op: []const u8) Err!u32 {
        const page = try self.pageOf(pa);
        return self.buddy.head(page, want) catch |e| {
            const wanted = switch (want) {
                .handed_over => "a handed-over block",
                .allocated => "an allocated block",
                else => @tagName(want),
            };
            return errors.fail(e, op ++ " 0x{x}: not {s}: it is {s}", .{ pa, wanted, self.stateWords(page) });
        };
    }

    /// The head page of a block `free` takes (allocated and not preserved,
    /// or handed over); each refusal names what the page is.
    pub fn releasableHead(self: *const Arena, pa: u64) Err!u32 {
        const page = try self.pageOf(pa);
        switch (self.buddy.state[page]) {
            .allocated => if (self.buddy.preserved[page]) {
                return errors.fail(Err.Busy, "free 0x{x}: it is preserved (unpreserve it first)", .{pa});
            },
            .handed_over => {},
            else => return errors.fail(Err.Invalid, "free 0x{x}: not a block to free: it is {s}", .{ pa, self.stateWords(page) }),
        }
        return page;
    }

    pub fn paOf(page: u64) u64 {
        return PHYS_BASE + page * PAGE_SIZE;
    }

    fn orderForSize(size: u64) Err!u8 {
        if (size == 0) return errors.fail(Err.Invalid, "size 0", .{});
        return Buddy.orderFor(size / PAGE_SIZE + @intFromBool(size % PAGE_SIZE != 0));
    }

    /// Allocates a block of at least `size` bytes. With ZERO the whole
    /// block reads as zero: it is zero-filled unless its pages are fresh.
    pub fn alloc(self: *Arena, size: u64, flags: u32) Err!Block {
        try self.writable();
        if (flags & ~AllocFlags.ALL != 0) return errors.fail(Err.Invalid, "alloc: unknown flags 0x{x}", .{flags & ~AllocFlags.ALL});
        const page = try self.allocBlock(try orderForSize(size), flags & AllocFlags.ZERO != 0);
        return .{ .pa = paOf(page), .npages = Buddy.pagesOf(self.buddy.order[page]) };
    }

    /// `alloc`, and the block is marked preserved.
    pub fn allocPreserve(self: *Arena, size: u64, flags: u32) Err!Block {
        const b = try self.alloc(size, flags);
        self.buddy.flipPreserved(@intCast((b.pa - PHYS_BASE) / PAGE_SIZE));
        return b;
    }

    /// The one way pages are handed out: a block of `order`, no longer
    /// fresh, zero-filled when `zero` unless it was.
    pub fn allocBlock(self: *Arena, order: u8, zero: bool) Err!u32 {
        const page = try self.buddy.alloc(order);
        const n: usize = @intCast(Buddy.pagesOf(order));
        const fresh = self.fresh.bit_length > 0 and bits.allSet(&self.fresh, page, n);
        if (zero and !fresh) {
            @memset(self.mem[@as(usize, page) * PAGE_SIZE ..][0 .. n * PAGE_SIZE], 0);
            self.zeroed_pages += n;
        }
        if (self.fresh.bit_length > 0) self.fresh.setRangeValue(.{ .start = page, .end = page + n }, false);
        return page;
    }

    /// Frees a block (allocated and not preserved, or handed over). A block
    /// listed in the published image is only parked (deferred) so that a
    /// crash before that image is superseded or discarded leaves it intact.
    pub fn free(self: *Arena, pa: u64) Err!void {
        try self.writable();
        self.releaseValid(try self.releasableHead(pa));
    }

    /// Frees a block now, listed in the published image or not: the caller
    /// guarantees nothing there references it (see listing.zig).
    pub fn freeUnreferenced(self: *Arena, pa: u64) Err!void {
        return listing.freeUnreferenced(self, pa);
    }

    /// Frees (or, when listed, defers) a block known to be allocated and
    /// not preserved, or handed over.
    pub fn releaseValid(self: *Arena, page: u32) void {
        if (self.listed.isSet(page)) self.buddy.deferValid(page) else _ = self.freeValid(page);
    }

    /// Returns a block to the free lists at once (poisoned in poison mode):
    /// one the caller knows is allocated and not preserved, handed over or
    /// deferred. Returns the page after the free block it merged into.
    pub fn freeValid(self: *Arena, page: u32) u64 {
        const pages = Buddy.pagesOf(self.buddy.order[page]);
        const end = self.buddy.freeValid(page);
        if (self.flags & Flags.POISON != 0) {
            @memset(self.mem[@as(usize, page) * PAGE_SIZE ..][0..@intCast(pages * PAGE_SIZE)], POISON_BYTE);
        }
        return end;
    }

    /// The allocated block at `pa`, checked to hold `size` bytes (and not to
    /// be absurdly large for them: at most one power of two more).
    fn allocatedOfSize(self: *const Arena, pa: u64, size: u64, comptime op: []const u8) Err!u32 {
        const page = try self.headIn(pa, .allocated, op);
        if (size == 0 or size > Buddy.pagesOf(self.buddy.order[page]) * PAGE_SIZE) {
            return errors.fail(Err.Invalid, "0x{x}: {d} bytes do not fit its block of {d} pages", .{ pa, size, Buddy.pagesOf(self.buddy.order[page]) });
        }
        return page;
    }

    pub fn preserve(self: *Arena, pa: u64, size: u64) Err!void {
        try self.writable();
        try self.setPreserved(try self.allocatedOfSize(pa, size, "preserve"), true);
    }

    pub fn unpreserve(self: *Arena, pa: u64, size: u64) Err!void {
        try self.writable();
        try self.setPreserved(try self.allocatedOfSize(pa, size, "unpreserve"), false);
    }

    /// Sets the preserved mark of an allocated block; Exists (NotFound)
    /// when it is set (clear) already.
    fn setPreserved(self: *Arena, page: u32, on: bool) Err!void {
        self.buddy.setPreserved(page, on) catch |e| {
            return errors.fail(e, "0x{x} is {s} already", .{ paOf(page), if (on) "preserved" else "not preserved" });
        };
    }

    pub fn unpreserveFree(self: *Arena, pa: u64) Err!void {
        try self.writable();
        const page = try self.headIn(pa, .allocated, "unpreserve_free");
        try self.setPreserved(page, false);
        self.releaseValid(page);
    }

    /// Claims a handed-over block; returns its size in pages.
    pub fn restore(self: *Arena, pa: u64) Err!u64 {
        try self.writable();
        const page = try self.headIn(pa, .handed_over, "restore");
        self.buddy.claim(page);
        return Buddy.pagesOf(self.buddy.order[page]);
    }

    /// Frees a handed-over block, claimed or not (a preserved one is Busy).
    pub fn restoreFree(self: *Arena, pa: u64) Err!void {
        try self.writable();
        const page = try self.pageOf(pa);
        const s = self.buddy.state[page];
        if (s != .handed_over and s != .allocated) {
            return errors.fail(Err.NotFound, "restore_free 0x{x}: not a handed-over block: it is {s}", .{ pa, self.stateWords(page) });
        }
        try self.free(pa);
    }

    /// Publishes `root_pa` (see publish.zig).
    pub fn handover(self: *Arena, root_pa: u64) Err!void {
        return publish.handover(self, root_pa);
    }

    /// Appends an allocated block to the published image (see publish.zig).
    pub fn attach(self: *Arena, pa: u64) Err!void {
        return publish.attach(self, pa);
    }

    /// The blocks of the map the header publishes now (the predecessor's or our own).
    pub fn publishedMap(self: *Arena) *std.ArrayListUnmanaged(u32) {
        assert(self.source != .none);
        return if (self.source == .own) &self.own_map else &self.incoming_map;
    }

    /// Gives up the predecessor's image (see publish.zig).
    pub fn discardIncoming(self: *Arena) Err!void {
        return publish.discardIncoming(self);
    }

    /// The aligned 8-byte word at byte offset `off` (atomic stores publish through it).
    pub fn wordAt(self: *const Arena, off: usize) *u64 {
        assert(off % 8 == 0 and off + 8 <= self.mem.len);
        return @ptrCast(@alignCast(&self.mem[off]));
    }

    /// Flushes [off, off+len) to the file when the SYNC flag is set. Stores
    /// to a MAP_SHARED mapping are visible to the next opener without it;
    /// the order of the stores is what keeps a process crash consistent,
    /// the flushes are for host crashes.
    pub fn sync(self: *Arena, off: u64, len: u64) Err!void {
        if (self.flags & Flags.SYNC == 0) return;
        self.syncs += 1;
        if (self.sync_fail_at != 0 and self.syncs == self.sync_fail_at) {
            return errors.fail(Err.Io, "msync {d} failed by fault injection", .{self.syncs});
        }
        const start = std.mem.alignBackward(u64, off, std.heap.pageSize());
        return sys.msync(@alignCast(self.mem[@intCast(start)..@intCast(off + len)]));
    }

    pub fn info(self: *const Arena) Info {
        return info_mod.of(self);
    }
};
