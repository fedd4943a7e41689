//! The conformance suite: every backend runs these through the `Backend` trait.
//!
//! A backend's test crate implements [`Harness`] over its mock and calls
//! [`conformance_tests!`](crate::conformance_tests) (one test per clause) or [`run_all`].
//! Each clause panics with a message naming the contract clause that failed; a clause that
//! finds nothing to check fails unless the harness declares it unsupported with a reason.
//! The clauses live by subject: `lifecycle` (power and idempotence), `identity` (names,
//! ownership, NICs), `actions` (custom, addresses, disks), `trust` (who may configure what,
//! installations).

mod actions;
mod identity;
mod lifecycle;
mod trust;

pub use actions::{custom_actions, disk_lifecycle, ip_addresses, unknown_actions_rejected};
pub use identity::{foreign_instance_never_touched, statuses_under_instance_names, unsupported_broadcast_uris_refused};
pub use lifecycle::{create_retried_after_failure, idempotence, lifecycle, missing_instance, statuses_consistent};
pub use trust::{
    installations_never_mix, operator_keys_ignore_instance_details, unmarked_vms_adopted_only_by_internal_name,
};

use csx_core::{dispatch, Action, Backend, Payload, PowerState, Reply, Request};
use serde_json::{json, Value};
use std::time::Duration;

/// What a backend's tests provide to the suite.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    /// The backend under test, configured against its mock.
    fn backend(&self) -> &dyn Backend;
    /// A complete `create`-shaped payload for an instance named `name`,
    /// configured for this backend (details, NICs, CPU, memory).
    fn payload(&self, name: &str) -> Value;
    /// Makes the next `create` fail after it has made something on the
    /// hypervisor. Returns false when the backend cannot inject that.
    async fn arm_create_failure(&self) -> bool;
    /// Ground truth: does the hypervisor (mock) hold an instance of that name?
    async fn exists(&self, name: &str) -> bool;
    /// Sets in `payload` whatever makes the VM be called `vm_name` on the hypervisor
    /// (Proxmox: detail `vm_name`). False when the backend always names VMs after the instance.
    fn rename(&self, _payload: &mut Value, _vm_name: &str) -> bool {
        false
    }
    /// Plants a VM as CloudStack's built-in extension (or an operator) made it: called
    /// `name`, no owner mark, no recorded instance name. False when the backend cannot.
    async fn plant_unmarked(&self, _name: &str, _running: bool) -> bool {
        false
    }
    /// Parameters for custom action `action` where the generic samples (`"csxsnap1"`, `false`,
    /// `1`) do not fit (a node to migrate to...).
    fn custom_params(&self, _action: &str) -> Option<serde_json::Map<String, Value>> {
        None
    }
    /// Sets the hypervisor (mock) up so that custom action `action` can work on instance `name`
    /// (a guest agent that answers, addresses in the guest...).
    async fn before_custom(&self, _name: &str, _action: &str) {}
    /// Custom actions the backend declares (so operators register the same names everywhere)
    /// but answers with an explained `unsupported` (Hyper-V's `Migrate`).
    fn unsupported_actions(&self) -> Vec<&'static str> {
        Vec::new()
    }
    /// The backend's declared configuration keys (its `KEYS` table), with their levels.
    fn keys(&self) -> &'static [csx_core::Key];
    /// Clauses this backend cannot be held to, each with the reason (`("clause", "why")`).
    /// A clause that finds nothing to check fails unless it is declared here: no clause
    /// passes by doing nothing.
    fn unsupported_clauses(&self) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }
}

/// A clause found nothing to check (`what` says why): allowed only when the harness declares
/// the clause unsupported with a reason.
#[track_caller]
pub(super) fn not_applicable(h: &dyn Harness, clause: &str, what: &str) {
    match h.unsupported_clauses().iter().find(|(c, _)| *c == clause) {
        Some((_, why)) => eprintln!("conformance clause `{clause}` not applicable: {why}"),
        None => panic!(
            "conformance clause `{clause}` checked nothing ({what}); implement it, or declare it in \
             Harness::unsupported_clauses with the reason"
        ),
    }
}

const DEADLINE: Duration = Duration::from_secs(30);

pub(super) fn request(v: Value) -> Request {
    let bytes = serde_json::to_vec(&v).expect("payload");
    let payload = Payload::from_slice(&bytes).expect("harness payloads must parse");
    Request::new(payload, tokio::time::Instant::now() + DEADLINE)
}

/// The payload CloudStack sends for `action`: no NICs outside create/start/prepare,
/// no `deployvm` after the first start.
pub(super) fn payload_for(h: &dyn Harness, name: &str, action: &str) -> Value {
    let mut v = h.payload(name);
    let vm = v.get_mut("cloudstack.vm.details").and_then(Value::as_object_mut);
    if let Some(vm) = vm {
        if !matches!(action, "create" | "prepare" | "start") {
            vm.insert("nics".into(), json!([]));
        }
        if let Some(d) = vm.get_mut("details").and_then(Value::as_object_mut) {
            if matches!(action, "create" | "prepare") {
                d.insert("deployvm".into(), "true".into());
            } else {
                d.remove("deployvm");
            }
        }
    }
    v
}

pub(super) async fn act(h: &dyn Harness, name: &str, action: &str) -> csx_core::Result<Reply> {
    let spec = Action::resolve(action, &h.backend().custom_actions())?;
    dispatch(h.backend(), &spec, &request(payload_for(h, name, action))).await
}

#[track_caller]
pub(super) fn ok(r: csx_core::Result<Reply>, what: &str) -> Reply {
    match r {
        Ok(Reply::Failed(e)) | Err(e) => panic!("{what} failed: {:?}: {}", e.kind(), e.message()),
        Ok(r) => r,
    }
}

pub(super) async fn status(h: &dyn Harness, name: &str) -> PowerState {
    match ok(act(h, name, "status").await, &format!("status of {name}")) {
        Reply::Status(s) => s,
        other => panic!("status returned {other:?}"),
    }
}

/// Prepare (if the backend patches anything, the patch is merged as CloudStack does), create.
pub(super) async fn deploy(h: &dyn Harness, name: &str) {
    let prepared = ok(act(h, name, "prepare").await, "prepare");
    let mut create = payload_for(h, name, "create");
    if let Reply::Prepared(p) = prepared {
        for (k, v) in p.details {
            create["cloudstack.vm.details"]["details"][k] = Value::String(v);
        }
    }
    let spec = Action::Create;
    ok(dispatch(h.backend(), &spec, &request(create)).await, &format!("create of {name}"));
}

/// Every clause, by name, in the order [`run_all`] runs them.
pub const CLAUSES: &[&str] = &[
    "lifecycle",
    "idempotence",
    "create_retried_after_failure",
    "missing_instance",
    "statuses_consistent",
    "statuses_under_instance_names",
    "foreign_instance_never_touched",
    "unsupported_broadcast_uris_refused",
    "custom_actions",
    "ip_addresses",
    "disk_lifecycle",
    "unknown_actions_rejected",
    "operator_keys_ignore_instance_details",
    "unmarked_vms_adopted_only_by_internal_name",
    "installations_never_mix",
];

/// Runs one clause by name (see [`CLAUSES`]).
pub async fn run_clause(h: &dyn Harness, name: &str) {
    match name {
        "lifecycle" => lifecycle(h).await,
        "idempotence" => idempotence(h).await,
        "create_retried_after_failure" => create_retried_after_failure(h).await,
        "missing_instance" => missing_instance(h).await,
        "statuses_consistent" => statuses_consistent(h).await,
        "statuses_under_instance_names" => statuses_under_instance_names(h).await,
        "foreign_instance_never_touched" => foreign_instance_never_touched(h).await,
        "unsupported_broadcast_uris_refused" => unsupported_broadcast_uris_refused(h).await,
        "custom_actions" => custom_actions(h).await,
        "ip_addresses" => ip_addresses(h).await,
        "disk_lifecycle" => disk_lifecycle(h).await,
        "unknown_actions_rejected" => unknown_actions_rejected(h).await,
        "operator_keys_ignore_instance_details" => operator_keys_ignore_instance_details(h).await,
        "unmarked_vms_adopted_only_by_internal_name" => unmarked_vms_adopted_only_by_internal_name(h).await,
        "installations_never_mix" => installations_never_mix(h).await,
        other => panic!("no conformance clause `{other}`"),
    }
}

/// The whole suite, in one go.
pub async fn run_all(h: &dyn Harness) {
    for c in CLAUSES {
        run_clause(h, c).await;
    }
}

/// One `#[tokio::test]` per clause, each with a harness of its own, so one failure hides no
/// other and `cargo test -- --list` shows every clause:
///
/// ```ignore
/// csx_testkit::conformance_tests!(Pve::start().await);
/// // or, with a check after every clause:
/// csx_testkit::conformance_tests!(Pve::start().await, |h: &Pve| assert!(h.only_the_template_left()));
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!($make, |_h| {});
    };
    ($make:expr, $after:expr) => {
        $crate::conformance_tests!(@each $make, $after;
            lifecycle,
            idempotence,
            create_retried_after_failure,
            missing_instance,
            statuses_consistent,
            statuses_under_instance_names,
            foreign_instance_never_touched,
            unsupported_broadcast_uris_refused,
            custom_actions,
            ip_addresses,
            disk_lifecycle,
            unknown_actions_rejected,
            operator_keys_ignore_instance_details,
            unmarked_vms_adopted_only_by_internal_name,
            installations_never_mix
        );
    };
    (@each $make:expr, $after:expr; $($clause:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $clause() {
                let h = $make;
                $crate::conformance::run_clause(&h, stringify!($clause)).await;
                let after = $after;
                after(&h);
            }
        )*
        #[test]
        fn every_clause_is_a_test() {
            assert_eq!(&[$(stringify!($clause)),*][..], $crate::conformance::CLAUSES);
        }
    };
}
