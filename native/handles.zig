//! The table of open arenas behind the C ABI's handles. It grows as arenas
//! are opened (a process is limited by its file descriptors, not by this
//! table, up to MAX_ARENAS). A handle is `generation << 16 | (slot + 1)`:
//! a closed handle never reaches the arena that reuses its slot until the
//! slot's 16-bit generation wraps around.

const std = @import("std");
const errors = @import("errors.zig");
const Err = errors.Err;

/// Open arenas one process may hold at once (slot numbers fit 16 bits).
pub const MAX_ARENAS: u32 = 0xffff;

pub fn Table(comptime T: type) type {
    return struct {
        const Self = @This();
        const Slot = struct { item: ?*T, generation: u16 };

        slots: std.ArrayListUnmanaged(Slot) = .{},
        /// Slots whose item was removed, reused first.
        vacant: std.ArrayListUnmanaged(u32) = .{},
        gpa: std.mem.Allocator,

        /// Makes room for one more item, so that the next `add` cannot fail.
        pub fn reserve(self: *Self) Err!void {
            const n = self.slots.items.len;
            if (self.vacant.items.len == 0 and n >= MAX_ARENAS) {
                return errors.fail(Err.NoSpace, "too many arenas open in this process ({d})", .{MAX_ARENAS});
            }
            self.slots.ensureUnusedCapacity(self.gpa, 1) catch return Err.NoMemory;
            // Room in `vacant` for every slot, so that `remove` cannot fail.
            self.vacant.ensureTotalCapacity(self.gpa, n + 1) catch return Err.NoMemory;
        }

        /// Stores `item` (after `reserve`); returns its handle (never 0).
        pub fn add(self: *Self, item: *T) u32 {
            const index: u32 = self.vacant.pop() orelse blk: {
                const n: u32 = @intCast(self.slots.items.len);
                std.debug.assert(n < MAX_ARENAS); // checked by reserve
                self.slots.appendAssumeCapacity(.{ .item = null, .generation = 0 });
                break :blk n;
            };
            const slot = &self.slots.items[index];
            std.debug.assert(slot.item == null);
            slot.item = item;
            slot.generation +%= 1;
            return @as(u32, slot.generation) << 16 | (index + 1);
        }

        fn slotOf(self: *const Self, h: u32) Err!*Slot {
            const index = h & 0xffff;
            if (index == 0 or index > self.slots.items.len) return Err.BadHandle;
            const slot = &self.slots.items[index - 1];
            if (slot.item == null or slot.generation != h >> 16) return Err.BadHandle;
            return slot;
        }

        /// The item of a live handle; BadHandle for 0, a closed or an unknown one.
        pub fn get(self: *const Self, h: u32) Err!*T {
            return (try self.slotOf(h)).item.?;
        }

        /// Removes a live handle's item and returns it.
        pub fn remove(self: *Self, h: u32) Err!*T {
            const slot = try self.slotOf(h);
            const item = slot.item.?;
            slot.item = null;
            // Capacity was reserved by `add`.
            self.vacant.appendAssumeCapacity((h & 0xffff) - 1);
            return item;
        }

        pub fn deinit(self: *Self) void {
            self.slots.deinit(self.gpa);
            self.vacant.deinit(self.gpa);
        }
    };
}

const testing = std.testing;

test "handles: more than 64 live at once, stale ones refused, slots reused" {
    var t = Table(u8){ .gpa = testing.allocator };
    defer t.deinit();
    var items: [300]u8 = undefined;
    var hs: [300]u32 = undefined;
    for (&hs, &items) |*h, *it| {
        try t.reserve();
        h.* = t.add(it);
    }
    for (hs, &items) |h, *it| try testing.expectEqual(it, try t.get(h));
    try testing.expectEqual(&items[7], try t.remove(hs[7]));
    try testing.expectError(Err.BadHandle, t.get(hs[7]));
    try testing.expectError(Err.BadHandle, t.remove(hs[7]));
    try t.reserve();
    const again = t.add(&items[7]);
    try testing.expect(again != hs[7]);
    try testing.expectEqual(hs[7] & 0xffff, again & 0xffff);
    try testing.expectError(Err.BadHandle, t.get(hs[7]));
    try testing.expectError(Err.BadHandle, t.get(0));
    try testing.expectError(Err.BadHandle, t.get(0xffff));
}
