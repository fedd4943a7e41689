//! The `Backend` trait every adapter implements, and the typed results of each action.

use crate::error::{Error, Result};
use crate::params::{CustomActionSpec, Params};
use crate::payload::Payload;
use async_trait::async_trait;
use std::collections::BTreeMap;
use tokio::time::Instant;

/// One invocation's input, as an adapter sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The parsed payload.
    pub payload: Payload,
    /// When the action must be finished (already minus the safety margin).
    pub deadline: Instant,
}

impl Request {
    pub fn new(payload: Payload, deadline: Instant) -> Self {
        Request { payload, deadline }
    }

    /// Time left before the deadline (zero once past it).
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The deadline for work that may have to be undone (a create): it keeps a
    /// tenth of the time left, 0.25 s to 10 s, so that a create that fails at its
    /// deadline can still remove what it made before the action's own deadline.
    pub fn work_deadline(&self) -> Instant {
        let reserve = (self.remaining() / 10)
            .clamp(std::time::Duration::from_millis(250), std::time::Duration::from_secs(10))
            .min(self.remaining() / 2);
        self.deadline.checked_sub(reserve).unwrap_or(self.deadline)
    }
}

/// Power state as CloudStack understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PowerState {
    On,
    Off,
    Unknown,
}

impl PowerState {
    /// The exact string CloudStack matches (`poweron`, `poweroff`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            PowerState::On => "poweron",
            PowerState::Off => "poweroff",
            PowerState::Unknown => "unknown",
        }
    }
}

/// What a successful lifecycle action reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Human-readable summary, e.g. `"Instance i-2-45-VM started"`.
    pub message: String,
    /// Extra facts (VMID, node...) added to the success document.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Outcome {
    pub fn new(message: impl Into<String>) -> Self {
        Outcome { message: message.into(), extra: Default::default() }
    }
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }
}

/// The patch `prepare` returns; empty means "no change".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    /// Persisted by CloudStack as instance details (string values only).
    pub details: BTreeMap<String, String>,
    /// Per-NIC MAC/IP updates; `uuid` (network) and `nic_uuid` echo the input NIC.
    pub nics: Vec<NicPatch>,
}

/// One NIC entry of a `prepare` patch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NicPatch {
    pub uuid: Option<String>,
    pub nic_uuid: Option<String>,
    pub mac: Option<String>,
    pub ip: Option<String>,
}

/// How a user reaches the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Console {
    /// A VNC endpoint the console proxy connects to.
    Vnc { host: String, port: u16, password: String, one_time: bool },
    /// A URL handed to the user as is.
    Direct { url: String },
}

/// The result of a custom action.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomResult {
    /// A plain message (the CloudStack UI shows only the action's own message).
    Message(String),
    /// Rows shown as a table in the UI; every row an object.
    Table(Vec<serde_json::Map<String, serde_json::Value>>),
}

/// An adapter: one method per standard action plus declared custom actions.
///
/// Optional actions default to a typed "unsupported" error. Every method gets
/// the request (payload plus deadline); the runner enforces the deadline too.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Reserve hypervisor-side resources before the first `create`.
    async fn prepare(&self, _req: &Request) -> Result<Prepared> {
        Ok(Prepared::default())
    }
    /// Create the instance and power it on. Must be idempotent and clean up on failure.
    async fn create(&self, req: &Request) -> Result<Outcome>;
    /// Power on; succeeds if already running.
    async fn start(&self, req: &Request) -> Result<Outcome>;
    /// Power off; succeeds if already stopped or gone.
    async fn stop(&self, req: &Request) -> Result<Outcome>;
    /// Reboot; starts a stopped instance.
    async fn reboot(&self, req: &Request) -> Result<Outcome>;
    /// Remove the instance and its disks; succeeds if already gone.
    async fn delete(&self, req: &Request) -> Result<Outcome>;
    /// Power state of one instance. Never guess: `Unknown` when unsure.
    async fn status(&self, req: &Request) -> Result<PowerState>;
    /// Power states of every instance on the host, keyed by CloudStack instance name.
    async fn statuses(&self, _req: &Request) -> Result<BTreeMap<String, PowerState>> {
        Err(Error::unsupported("this extension does not report bulk power states; CloudStack falls back to `status`"))
    }
    /// Console access.
    async fn console(&self, _req: &Request) -> Result<Console> {
        Err(Error::unsupported("this extension does not provide consoles"))
    }
    /// `doctor`: the configuration, connection, authorization and object checks (the runner
    /// checks the install). Never fails: every problem is a failed check saying what to change.
    async fn doctor(&self, _req: &Request) -> Vec<crate::doctor::Check> {
        vec![crate::doctor::Check::skip(
            crate::doctor::Area::Configuration,
            "checks",
            "this extension has no doctor checks of its own",
        )]
    }
    /// The custom actions this backend implements, for dispatch and `--help`.
    fn custom_actions(&self) -> Vec<CustomActionSpec> {
        Vec::new()
    }
    /// Run a declared custom action; `name` is the declared (canonical) name.
    async fn custom(&self, name: &str, _params: &Params, _req: &Request) -> Result<CustomResult> {
        Err(Error::unsupported(format!("custom action `{name}` is not implemented")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn work_deadline_keeps_time_to_undo() {
        let payload = Payload::from_slice(b"{}").unwrap();
        let reserve = |budget: Duration| {
            let req = Request::new(payload.clone(), Instant::now() + budget);
            req.deadline - req.work_deadline()
        };
        assert_eq!(reserve(Duration::from_millis(750)), Duration::from_millis(250));
        assert_eq!(reserve(Duration::from_millis(300)), Duration::from_millis(150), "never more than half");
        assert_eq!(reserve(Duration::from_secs(9)), Duration::from_millis(900));
        assert_eq!(reserve(Duration::from_secs(1795)), Duration::from_secs(10));
    }
}
