//! Flags of kho_create and kho_open (lib/kho/options.ts mirrors them).

pub const Flags = struct {
    /// Fill freed and never-preserved pages with POISON_BYTE.
    pub const POISON: u32 = 1;
    /// Inspect: map privately and lazily, take no lock, never write the file.
    pub const READ_ONLY: u32 = 2;
    /// Ignore what was handed over: every page but the header is free.
    pub const DISCARD: u32 = 4;
    /// msync the map and the header at handover (survive a host crash, not
    /// only a process crash; off by default: like KHO, a live update
    /// survives the predecessor's exit, not a power loss).
    pub const SYNC: u32 = 8;
    /// Open a file owned by another user (its mode must still be 0600).
    pub const ALLOW_OTHER_OWNER: u32 = 16;
    /// Reserve no blocks (create) and fill no holes (open): the file stays
    /// sparse, and a full filesystem then means SIGBUS on a write.
    pub const SPARSE: u32 = 32;

    /// What kho_create accepts.
    pub const CREATE: u32 = POISON | SYNC | SPARSE;
    /// What kho_open accepts.
    pub const OPEN: u32 = POISON | READ_ONLY | DISCARD | SYNC | ALLOW_OTHER_OWNER | SPARSE;
};
