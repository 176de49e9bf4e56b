//! Builds native/ as the shared library libkho (zig 0.14: b.addLibrary with
//! a root_module) and runs its unit tests.
//!
//!   zig build --release      the host's library in zig-out/lib (a checkout's build)
//!   zig build test           the native unit tests
//!   zig build prebuilt       the published libraries, one per target in
//!                            `prebuilt_targets`, ReleaseSafe and stripped, in
//!                            zig-out/prebuilt/<os>-<arch>/ (`./luo prebuild`
//!                            copies them to native/prebuilt/ and records their
//!                            SHA-256 in lib/kho/prebuilt.ts)
const std = @import("std");

/// The platforms the package ships a library for. The directory name is
/// `<os>-<arch>` with Deno's names (`Deno.build.os`, `Deno.build.arch`).
/// Keep README "Platforms" in step with this list.
const prebuilt_targets = [_]struct { dir: []const u8, query: std.Target.Query }{
    .{ .dir = "linux-x86_64", .query = .{ .cpu_arch = .x86_64, .os_tag = .linux } },
    .{ .dir = "linux-aarch64", .query = .{ .cpu_arch = .aarch64, .os_tag = .linux } },
    .{ .dir = "darwin-x86_64", .query = .{ .cpu_arch = .x86_64, .os_tag = .macos } },
    .{ .dir = "darwin-aarch64", .query = .{ .cpu_arch = .aarch64, .os_tag = .macos } },
};

fn library(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, strip: ?bool) *std.Build.Step.Compile {
    const mod = b.createModule(.{
        .root_source_file = b.path("native/kho.zig"),
        .target = target,
        .optimize = optimize,
        .strip = strip,
    });
    return b.addLibrary(.{ .name = "kho", .linkage = .dynamic, .root_module = mod });
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{ .preferred_optimize_mode = .ReleaseSafe });
    const strip = b.option(bool, "strip", "Omit debug information");
    const lib = library(b, target, optimize, strip);
    b.installArtifact(lib);

    // The tests have their own root (native/tests.zig), so that the library's
    // sources import no test file and build without them (the package
    // leaves the tests out).
    const tests = b.addTest(.{ .root_module = b.createModule(.{
        .root_source_file = b.path("native/tests.zig"),
        .target = target,
        .optimize = optimize,
    }) });
    const run_tests = b.addRunArtifact(tests);
    b.step("test", "Run the native unit tests").dependOn(&run_tests.step);

    // ReleaseSafe keeps every safety check (a bad argument is a panic with a
    // message, never undefined behaviour); strip drops the debug information.
    const prebuilt = b.step("prebuilt", "Build the published library of every supported platform");
    for (prebuilt_targets) |t| {
        const cross = library(b, b.resolveTargetQuery(t.query), .ReleaseSafe, true);
        const install = b.addInstallArtifact(cross, .{
            .dest_dir = .{ .override = .{ .custom = b.fmt("prebuilt/{s}", .{t.dir}) } },
        });
        prebuilt.dependOn(&install.step);
    }
}
