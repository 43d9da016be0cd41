//! (filled in by the pilot-discovery work: see lib.rs)
