//! The root of the native unit tests (`zig build test`). The library's root,
//! kho.zig, imports no test file, so that the published sources (which leave
//! the `*_test.zig` files, their fixtures and this root out) build the
//! library on their own.

test {
    _ = @import("kho.zig");
    _ = @import("kho_test.zig");
    _ = @import("errors.zig");
    _ = @import("bits.zig");
    _ = @import("header.zig");
    _ = @import("memmap.zig");
    _ = @import("handles.zig");
    _ = @import("buddy_test.zig");
    _ = @import("arena_file_test.zig");
    _ = @import("arena_test.zig");
    _ = @import("publish_test.zig");
    _ = @import("listing_test.zig");
    _ = @import("anon.zig");
    _ = @import("journal_test.zig");
    _ = @import("key_index.zig");
    _ = @import("tags.zig");
    _ = @import("records_test.zig");
    _ = @import("records_keys_test.zig");
    _ = @import("extents_test.zig");
    _ = @import("trim_test.zig");
}
