//! C ABI: the one-pass reader of handed-over chains of fixed-size records
//! (records.zig).

const std = @import("std");
const errors = @import("errors.zig");
const abi = @import("abi.zig");
const records = @import("records.zig");

/// Size in bytes of the parameter struct of kho_read_records (lib/kho/records.ts checks it).
export fn kho_records_params_size() usize {
    return @sizeOf(records.Params);
}

/// Validates the chain of fixed-size records at `params.head` in one pass
/// and, with CLAIM, claims its blocks (records.zig says what is checked and
/// in which order). Outputs: the known `tags` (`tag_cap` fields of
/// `tag_size` bytes; OPEN_TAGS appends new ones), a u16 tag id per record
/// in `ids`, every key in the zero-filled open-addressing `index`
/// (`index_slots` slots of four i32), and the blocks as `{ u64 pa; u64
/// count; }` in `blocks` (`block_cap` of them). Returns 0 when done, 1 when
/// the outputs are too small for `nblocks` blocks or `nrecords` records
/// (nothing claimed or written: call again with room), or a negated errno:
/// EBADMSG or ENOSPC with `reason` and the `fail_*` fields naming the
/// damaged block or record, EINVAL for parameters that disagree.
export fn kho_read_records(h: u32, params: ?*records.Params, tags: ?[*]u8, ids: ?[*]u16, index: ?[*]i32, blocks: ?[*]u64) i32 {
    const a = abi.enter(h) catch |e| return errors.code(e);
    const p = abi.place(records.Params, params) catch |e| return errors.code(e);
    const out = records.Outputs{
        .tags = abi.buffer(u8, tags, @as(u64, p.tag_cap) * p.tag_size, "the tag table") catch |e| return errors.code(e),
        .ids = abi.buffer(u16, ids, p.ids_len, "the tag ids") catch |e| return errors.code(e),
        .index = abi.buffer(i32, index, std.math.mul(u64, p.index_slots, 4) catch std.math.maxInt(u64), "the key index") catch |e| return errors.code(e),
        .blocks = abi.buffer(u64, blocks, std.math.mul(u64, p.block_cap, 2) catch std.math.maxInt(u64), "the blocks") catch |e| return errors.code(e),
    };
    const r = records.read(a, p, out) catch |e| return errors.code(e);
    return if (r == .need_room) 1 else 0;
}
