//! csx-core: the CloudStack orchestrator-extension contract, independent of any hypervisor.
//!
//! - [`Backend`]: the trait adapters implement, one method per action;
//! - [`Payload`]: the payload CloudStack writes, parsed leniently;
//! - [`Action`] and [`dispatch`]: the actions CloudStack names, mapped to the trait;
//! - [`Reply`]: the one JSON document an invocation prints.

pub mod action;
pub mod backend;
pub mod config;
pub mod doctor;
pub mod error;
pub mod guest;
pub mod identity;
pub mod loose;
pub mod operator;
pub mod output;
pub mod params;
pub mod payload;
pub mod poll;
pub mod redact;
pub mod time;

pub use action::{dispatch, Action};
pub use backend::{Backend, Console, CustomResult, NicPatch, Outcome, PowerState, Prepared, Request};
pub use config::{Key, Level};
pub use error::{Error, ErrorKind, Result, ResultExt};
pub use identity::{Ownership, Pick};
pub use output::Reply;
pub use params::{CustomAction, CustomActionSpec, ParamType, ParamValue, Params};
pub use payload::{Details, Nic, Payload, Vlan};

/// Re-exported so adapters implement [`Backend`] without naming the crate.
pub use async_trait::async_trait;
