//! The arena: a file mapped MAP_SHARED that plays "physical memory".
//! Page 0 is the header; physical address = phys_base + file offset.
//! Preserved blocks are listed in the preserved-memory map at handover; a
//! successor rebuilds its allocator from that map: listed blocks are held
//! (handed over) until restored, everything else is free.

const std = @import("std");
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

pub const PAGE_SIZE: u64 = header.PAGE_SIZE;
pub const PHYS_BASE: u64 = header.PHYS_BASE;
pub const Hdr = header.Hdr;
pub const Flags = @import("flags.zig").Flags;
/// Byte pattern written over unpreserved pages in poison mode.
pub const POISON_BYTE: u8 = 0xa5;

/// Journal record { u64 magic; u64 fdt_pa; u64 mem_map_pa; u64 handovers; }
/// after the header, used to make the update of its last three fields atomic.
const PENDING = 64;

/// "KHOPEND1", little-endian: marks a valid pending header record.
pub const PENDING_MAGIC: u64 = std.mem.readInt(u64, "KHOPEND1", .little);

pub const Info = extern struct {
    size: u64,
    phys_base: u64,
    page_size: u64,
    pages: u64,
    free_pages: u64,
    allocated_pages: u64,
    preserved_pages: u64,
    preserved_blocks: u64,
    handed_over_pages: u64,
    handed_over_blocks: u64,
    allocations: u64,
    incoming_fdt_pa: u64,
    handovers: u64,
    flags: u64,
    deferred_pages: u64,
    zeroed_pages: u64,
};

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
    /// Pages never handed out since the file was created (they read as
    /// zero); empty for an arena opened, not created, by this process.
    fresh: std.DynamicBitSetUnmanaged = .{},
    /// Pages zero-filled by ZERO allocations (fresh ones need none).
    zeroed_pages: u64 = 0,
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
            return errors.fail(Err.Invalid, "create: size {d} is not a multiple of {d} in {d}..{d}", .{ size, PAGE_SIZE, 2 * PAGE_SIZE, buddy_mod.MAX_PAGES * PAGE_SIZE });
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
        self.listed.deinit(self.gpa);
        self.fresh.deinit(self.gpa);
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

    /// Page index of the block head at `pa`; Invalid when unaligned or outside.
    pub fn pageOf(self: *const Arena, pa: u64) Err!u32 {
        if (pa < PHYS_BASE or (pa - PHYS_BASE) % PAGE_SIZE != 0) return Err.Invalid;
        const page = (pa - PHYS_BASE) / PAGE_SIZE;
        if (page == 0 or page >= self.buddy.npages) return Err.Invalid;
        return @intCast(page);
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

    /// Frees a block. A block listed in the published image is only parked
    /// (deferred) so that a crash before that image is superseded (by our
    /// own handover) or discarded leaves it intact.
    pub fn free(self: *Arena, pa: u64) Err!void {
        try self.writable();
        const page = try self.pageOf(pa);
        try self.buddy.checkReleasable(page);
        if (self.buddy.state[page] == .deferred) return errors.fail(Err.Invalid, "free 0x{x}: freed already", .{pa});
        self.releaseValid(page);
    }

    /// Frees (or, when listed, defers) a block known to be allocated and
    /// not preserved, or handed over.
    fn releaseValid(self: *Arena, page: u32) void {
        if (self.listed.isSet(page)) self.buddy.deferValid(page) else _ = self.freeValid(page);
    }

    /// Returns a block to the free lists at once (poisoned in poison mode):
    /// one the caller knows is allocated and not preserved, handed over or
    /// deferred. Returns the page after the free block it merged into.
    pub fn freeValid(self: *Arena, page: u32) u64 {
        const order = self.buddy.order[page];
        const end = self.buddy.freeValid(page);
        self.poisonPages(page, order);
        return end;
    }

    pub fn poisonPages(self: *Arena, page: u32, order: u8) void {
        if (self.flags & Flags.POISON == 0) return;
        const start: usize = @intCast(page * PAGE_SIZE);
        @memset(self.mem[start..][0..@intCast(Buddy.pagesOf(order) * PAGE_SIZE)], POISON_BYTE);
    }

    /// Checks that `size` fits the block at `page` (and is not absurdly small for it).
    fn checkSize(self: *const Arena, page: u32, size: u64) Err!void {
        if (size == 0 or size > Buddy.pagesOf(self.buddy.order[page]) * PAGE_SIZE) return Err.Invalid;
    }

    pub fn preserve(self: *Arena, pa: u64, size: u64) Err!void {
        try self.writable();
        const page = try self.buddy.head(try self.pageOf(pa), .allocated);
        try self.checkSize(page, size);
        try self.buddy.setPreserved(page, true);
    }

    pub fn unpreserve(self: *Arena, pa: u64, size: u64) Err!void {
        try self.writable();
        const page = try self.buddy.head(try self.pageOf(pa), .allocated);
        try self.checkSize(page, size);
        try self.buddy.setPreserved(page, false);
    }

    /// `alloc`, and the block is marked preserved.
    pub fn allocPreserve(self: *Arena, size: u64, flags: u32) Err!Block {
        const b = try self.alloc(size, flags);
        self.buddy.flipPreserved(@intCast((b.pa - PHYS_BASE) / PAGE_SIZE));
        return b;
    }

    pub fn unpreserveFree(self: *Arena, pa: u64) Err!void {
        try self.writable();
        const page = try self.buddy.head(try self.pageOf(pa), .allocated);
        try self.buddy.setPreserved(page, false);
        self.releaseValid(page);
    }

    /// Claims a handed-over block; returns its size in pages.
    pub fn restore(self: *Arena, pa: u64) Err!u64 {
        try self.writable();
        const page = try self.buddy.head(try self.pageOf(pa), .handed_over);
        self.buddy.claim(page);
        return Buddy.pagesOf(self.buddy.order[page]);
    }

    /// Frees a handed-over block, claimed or not (a preserved one is Busy).
    pub fn restoreFree(self: *Arena, pa: u64) Err!void {
        try self.writable();
        const page = try self.pageOf(pa);
        const s = self.buddy.state[page];
        if (s != .handed_over and s != .allocated) return Err.NotFound;
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

    /// Gives up the predecessor's image (see publish.zig).
    pub fn discardIncoming(self: *Arena) Err!void {
        return publish.discardIncoming(self);
    }

    pub const Published = struct { fdt_pa: u64, mem_map_pa: u64, handovers: u64 };

    /// Journaled header update: write the pending record, mark it valid (the
    /// commit point), copy it to the header fields, clear it. An opener that
    /// finds a valid pending record completes the copy (roll forward).
    pub fn commit(self: *Arena, p: Published) void {
        const pend = PENDING;
        @atomicStore(u64, self.wordAt(pend + 8), p.fdt_pa, .seq_cst);
        @atomicStore(u64, self.wordAt(pend + 16), p.mem_map_pa, .seq_cst);
        @atomicStore(u64, self.wordAt(pend + 24), p.handovers, .seq_cst);
        self.sync(0, PAGE_SIZE);
        @atomicStore(u64, self.wordAt(pend), PENDING_MAGIC, .seq_cst);
        self.sync(0, PAGE_SIZE);
        self.applyPending();
    }

    /// Copies a valid pending record into the header fields and clears it.
    pub fn applyPending(self: *Arena) void {
        const pend = PENDING;
        if (@atomicLoad(u64, self.wordAt(pend), .seq_cst) != PENDING_MAGIC) return;
        const ph = self.phys();
        @atomicStore(u64, self.wordAt(Hdr.mem_map_pa), ph.readU64(pend + 16), .seq_cst);
        @atomicStore(u64, self.wordAt(Hdr.handovers), ph.readU64(pend + 24), .seq_cst);
        @atomicStore(u64, self.wordAt(Hdr.fdt_pa), ph.readU64(pend + 8), .seq_cst);
        self.sync(0, PAGE_SIZE);
        @atomicStore(u64, self.wordAt(pend), 0, .seq_cst);
        self.sync(0, PAGE_SIZE);
    }

    /// The published header fields, a valid pending record taking precedence.
    pub fn published(self: *const Arena) Published {
        const ph = self.phys();
        const base: usize = if (ph.readU64(PENDING) == PENDING_MAGIC) PENDING + 8 else Hdr.fdt_pa;
        const map_off: usize = if (base == Hdr.fdt_pa) Hdr.mem_map_pa else PENDING + 16;
        const ho_off: usize = if (base == Hdr.fdt_pa) Hdr.handovers else PENDING + 24;
        return .{ .fdt_pa = ph.readU64(base), .mem_map_pa = ph.readU64(map_off), .handovers = ph.readU64(ho_off) };
    }

    pub fn wordAt(self: *Arena, off: usize) *u64 {
        return @ptrCast(@alignCast(&self.mem[off]));
    }

    /// Flushes [off, off+len) to the file when the SYNC flag is set. Stores
    /// to a MAP_SHARED mapping are visible to the next opener without it;
    /// the order of the header stores is what keeps a crash consistent.
    pub fn sync(self: *Arena, off: u64, len: u64) void {
        if (self.flags & Flags.SYNC == 0) return;
        const slice: []align(std.heap.page_size_min) u8 = @alignCast(self.mem[@intCast(off)..][0..@intCast(len)]);
        posix.msync(slice, posix.MSF.SYNC) catch {};
    }

    pub fn info(self: *const Arena) Info {
        const s = self.buddy.stats;
        return .{
            .size = self.mem.len,
            .phys_base = PHYS_BASE,
            .page_size = PAGE_SIZE,
            .pages = self.buddy.npages,
            .free_pages = s.free_pages,
            .allocated_pages = s.allocated_pages,
            .preserved_pages = s.preserved_pages,
            .preserved_blocks = s.preserved_blocks,
            .handed_over_pages = s.handed_over_pages,
            .handed_over_blocks = s.handed_over_blocks,
            .allocations = s.allocations,
            .incoming_fdt_pa = self.incoming_fdt_pa,
            .handovers = self.published().handovers,
            .flags = self.flags,
            .deferred_pages = s.deferred_pages,
            .zeroed_pages = self.zeroed_pages,
        };
    }
};

const testing = std.testing;

pub fn tmpPath(buf: []u8, name: []const u8) ![]const u8 {
    return std.fmt.bufPrint(buf, "/tmp/kho-zig-test-{d}-{s}.arena", .{ std.os.linux.getpid(), name });
}

test "create, allocate, hand over, reopen: preserved blocks are held, the rest is free" {
    var buf: [128]u8 = undefined;
    const path = try tmpPath(&buf, "handover");
    posix.unlink(path) catch {};
    defer posix.unlink(path) catch {};
    const a = try Arena.create(testing.allocator, path, 256 * PAGE_SIZE, Flags.POISON);
    const p1 = (try a.allocPreserve(3 * PAGE_SIZE, 0)).pa;
    const p2 = (try a.allocPreserve(1, 0)).pa;
    const scratch = (try a.alloc(PAGE_SIZE, 0)).pa;
    try testing.expectError(Err.Busy, Arena.open(testing.allocator, path, 0));
    a.mem[@intCast(p1 - PHYS_BASE)] = 42;
    a.mem[@intCast(scratch - PHYS_BASE)] = 7;
    try a.handover(p2);
    a.close();

    const b = try Arena.open(testing.allocator, path, Flags.POISON);
    defer b.close();
    try testing.expectEqual(p2, b.incoming_fdt_pa);
    try testing.expectEqual(@as(u64, 1), b.info().handovers);
    try testing.expectEqual(@as(u64, 2), b.info().handed_over_blocks);
    try testing.expectEqual(@as(u64, 4), try b.restore(p1));
    try testing.expectEqual(@as(u8, 42), b.mem[@intCast(p1 - PHYS_BASE)]);
    try testing.expectEqual(POISON_BYTE, b.mem[@intCast(scratch - PHYS_BASE)]);
    try testing.expectError(Err.NotFound, b.restore(p1));
    try testing.expectError(Err.Invalid, b.restore(scratch + 1));
    try b.restoreFree(p1);
    try b.restoreFree(p2);
    // The predecessor's state stays intact until our handover: its blocks are
    // deferred, not reusable; the map block is held too.
    try testing.expectEqual(@as(u64, 5), b.info().deferred_pages);
    try testing.expectEqual(@as(u64, 256 - 2 - 5), b.info().free_pages);
    try b.handover(0);
    try testing.expectEqual(@as(u64, 0), b.info().deferred_pages);
    try testing.expectEqual(@as(u64, 255), b.info().free_pages);
}

test "a pending header record is rolled forward by the next opener" {
    var buf: [128]u8 = undefined;
    const path = try tmpPath(&buf, "pending");
    posix.unlink(path) catch {};
    defer posix.unlink(path) catch {};
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    const published = a.published();
    // Simulate a crash right after the commit point of a second handover:
    // the pending record is valid, the header fields are not updated yet.
    a.phys().writeU64(Hdr.fdt_pa, 0);
    a.phys().writeU64(Hdr.mem_map_pa, 0);
    a.phys().writeU64(PENDING + 8, published.fdt_pa);
    a.phys().writeU64(PENDING + 16, published.mem_map_pa);
    a.phys().writeU64(PENDING + 24, published.handovers);
    a.phys().writeU64(PENDING, PENDING_MAGIC);
    a.close();
    const ro = try Arena.open(testing.allocator, path, Flags.READ_ONLY);
    try testing.expectEqual(root, ro.incoming_fdt_pa);
    ro.close();
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    try testing.expectEqual(root, b.incoming_fdt_pa);
    try testing.expectEqual(root, b.phys().readU64(Hdr.fdt_pa));
    try testing.expectEqual(@as(u64, 0), b.phys().readU64(PENDING));
}

test "a damaged map is reported, not trusted" {
    var buf: [128]u8 = undefined;
    const path = try tmpPath(&buf, "corrupt");
    posix.unlink(path) catch {};
    defer posix.unlink(path) catch {};
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const root = (try a.allocPreserve(PAGE_SIZE, 0)).pa;
    try a.handover(root);
    const map_off = a.phys().readU64(Hdr.mem_map_pa) - PHYS_BASE;
    a.phys().writeU64(map_off + 8, 999); // count over capacity
    a.close();
    try testing.expectError(Err.Corrupt, Arena.open(testing.allocator, path, 0));
    const c = try Arena.open(testing.allocator, path, Flags.DISCARD);
    defer c.close();
    try testing.expectEqual(@as(u64, 63), c.info().free_pages);
}

test "ZERO: fresh pages are handed out as they are, reused ones are zero-filled" {
    var buf: [128]u8 = undefined;
    const path = try tmpPath(&buf, "zero");
    posix.unlink(path) catch {};
    defer posix.unlink(path) catch {};
    const a = try Arena.create(testing.allocator, path, 64 * PAGE_SIZE, 0);
    const first = try a.alloc(2 * PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(@as(u64, 0), a.zeroed_pages);
    const bytes = a.mem[@intCast(first.pa - PHYS_BASE)..][0 .. 2 * PAGE_SIZE];
    try testing.expect(std.mem.allEqual(u8, bytes, 0));
    @memset(bytes, 0xff);
    try a.free(first.pa);
    const again = try a.alloc(2 * PAGE_SIZE, 0);
    try testing.expectEqual(first.pa, again.pa); // reused, and left as it was
    try testing.expectEqual(@as(u8, 0xff), bytes[PAGE_SIZE]);
    try a.free(again.pa);
    const zeroed = try a.allocPreserve(2 * PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(first.pa, zeroed.pa);
    try testing.expect(std.mem.allEqual(u8, bytes, 0));
    try testing.expectEqual(@as(u64, 2), a.zeroed_pages);
    try testing.expectError(Err.Invalid, a.alloc(1, 2));
    a.close();
    // An opened arena knows no fresh page: every ZERO allocation is filled.
    const b = try Arena.open(testing.allocator, path, 0);
    defer b.close();
    _ = try b.alloc(PAGE_SIZE, AllocFlags.ZERO);
    try testing.expectEqual(@as(u64, 1), b.zeroed_pages);
}
