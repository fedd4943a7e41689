//! csx-testkit: what every backend must pass, in the manner of object_store's
//! `integration.rs`.
//!
//! - [`conformance`]: async functions that drive any [`csx_core::Backend`]
//!   through the same dispatch the binaries use;
//! - [`process`]: runs a built binary exactly as CloudStack does (argv,
//!   payload file, timeout) and checks the output contract.

pub mod conformance;
pub mod process;

pub use conformance::Harness;
pub use process::{run_binary, Run};

/// The workspace's `fixtures/` directory.
pub fn fixtures_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
