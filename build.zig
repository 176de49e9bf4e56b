//! Builds native/ as the shared library libkho (zig 0.14: b.addLibrary with
//! a root_module) and runs its unit tests with `zig build test`.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{ .preferred_optimize_mode = .ReleaseSafe });
    const mod = b.createModule(.{
        .root_source_file = b.path("native/kho.zig"),
        .target = target,
        .optimize = optimize,
    });
    const lib = b.addLibrary(.{ .name = "kho", .linkage = .dynamic, .root_module = mod });
    b.installArtifact(lib);

    const tests = b.addTest(.{ .root_module = mod });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "Run the native unit tests").dependOn(&run_tests.step);
}
