//! The header journal: the three published header fields (`fdt_pa`,
//! `mem_map_pa`, `handovers`) change together or not at all. A commit
//! writes them into a record after the header, flushes, stores the record's
//! magic (the commit point: one aligned 8-byte store), copies the record
//! into the header fields and clears the magic. An opener that finds a
//! valid record completes the copy (roll forward); a reader that cannot
//! write takes the record's fields as the published ones.

const std = @import("std");
const assert = std.debug.assert;
const errors = @import("errors.zig");
const Err = errors.Err;
const header = @import("header.zig");
const Hdr = header.Hdr;
const Arena = @import("arena.zig").Arena;

/// Where the record lives in page 0: after the header, 8-byte aligned.
pub const OFFSET = 64;

/// The journal record, little-endian like the header.
pub const Record = extern struct {
    /// MAGIC while the record is valid (committed, not yet copied).
    magic: u64,
    fdt_pa: u64,
    mem_map_pa: u64,
    handovers: u64,
};

/// "KHOPEND1", little-endian: marks a valid record.
pub const MAGIC: u64 = std.mem.readInt(u64, "KHOPEND1", .little);

comptime {
    assert(OFFSET >= Hdr.len and OFFSET % 8 == 0);
    assert(OFFSET + @sizeOf(Record) <= header.PAGE_SIZE);
    assert(@import("builtin").cpu.arch.endian() == .little);
}

/// The published header fields.
pub const Published = struct { fdt_pa: u64, mem_map_pa: u64, handovers: u64 };

/// Whether everything a commit wrote was flushed (SYNC), or a flush after
/// the commit point failed: the state is committed all the same (a live
/// successor sees it) but a host crash may bring back the previous one.
pub const Outcome = enum { flushed, not_flushed };

/// Byte offset in page 0 of a record field.
fn at(comptime field: []const u8) usize {
    return OFFSET + @offsetOf(Record, field);
}

fn load(a: *const Arena, off: usize) u64 {
    return @atomicLoad(u64, a.wordAt(off), .seq_cst);
}

fn store(a: *Arena, off: usize, v: u64) void {
    @atomicStore(u64, a.wordAt(off), v, .seq_cst);
}

/// The published fields, a valid record taking precedence over the header.
pub fn published(a: *const Arena) Published {
    if (load(a, at("magic")) == MAGIC) {
        return .{ .fdt_pa = load(a, at("fdt_pa")), .mem_map_pa = load(a, at("mem_map_pa")), .handovers = load(a, at("handovers")) };
    }
    return .{ .fdt_pa = load(a, Hdr.fdt_pa), .mem_map_pa = load(a, Hdr.mem_map_pa), .handovers = load(a, Hdr.handovers) };
}

/// Publishes `p`. An error means nothing changed (a flush before the
/// commit point failed); otherwise `p` is published and the outcome says
/// whether it was flushed.
pub fn commit(a: *Arena, p: Published) Err!Outcome {
    store(a, at("fdt_pa"), p.fdt_pa);
    store(a, at("mem_map_pa"), p.mem_map_pa);
    store(a, at("handovers"), p.handovers);
    try a.sync(0, header.PAGE_SIZE);
    store(a, at("magic"), MAGIC); // the commit point
    var outcome = Outcome.flushed;
    flushCommitted(a, &outcome);
    if (apply(a) == .not_flushed) outcome = .not_flushed;
    return outcome;
}

/// Copies a valid record into the header fields and clears it (a no-op
/// without one). The header is right in memory either way; the outcome
/// says whether it was flushed.
pub fn apply(a: *Arena) Outcome {
    if (load(a, at("magic")) != MAGIC) return .flushed;
    var outcome = Outcome.flushed;
    store(a, Hdr.mem_map_pa, load(a, at("mem_map_pa")));
    store(a, Hdr.handovers, load(a, at("handovers")));
    store(a, Hdr.fdt_pa, load(a, at("fdt_pa")));
    flushCommitted(a, &outcome);
    store(a, at("magic"), 0);
    flushCommitted(a, &outcome);
    return outcome;
}

/// A flush after the commit point. Its failure does not undo the commit:
/// it is recorded in `outcome` (and the detail names the failed msync) for
/// the caller to report.
fn flushCommitted(a: *Arena, outcome: *Outcome) void {
    a.sync(0, header.PAGE_SIZE) catch {
        assert(errors.detail().len > 0); // Arena.sync names every failure
        outcome.* = .not_flushed;
    };
}

/// For tests: leaves `p` committed in the record but not copied, as a
/// process killed right after the commit point does.
pub fn simulateCrashAfterCommitPoint(a: *Arena, p: Published) void {
    store(a, at("fdt_pa"), p.fdt_pa);
    store(a, at("mem_map_pa"), p.mem_map_pa);
    store(a, at("handovers"), p.handovers);
    store(a, Hdr.fdt_pa, 0);
    store(a, Hdr.mem_map_pa, 0);
    store(a, at("magic"), MAGIC);
}
