//! Who may set which tags, and the datacenter options that say so.

use super::state::State;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The tags the user may set, the registered (privileged) tags, and whether any other tag is
/// allowed: pve-guest-common `src/PVE/GuestHelpers.pm` `get_allowed_tags` (`user-allow`
/// default `free`; `list`/`existing` allow the `user-allow-list`, `existing` and `free` also
/// every tag on a VM the user may audit; registered tags only with Sys.Modify on `/`).
fn allowed_tags(state: &State) -> (BTreeSet<String>, BTreeSet<String>, bool) {
    let privileged = state.privileges_on("/").contains("Sys.Modify");
    let registered: BTreeSet<String> = state.registered_tags.iter().cloned().collect();
    let allow = state.user_allow.as_str();
    let mut allowed = BTreeSet::new();
    if allow != "none" || privileged {
        allowed.extend(state.user_allow_list.iter().cloned());
    }
    if allow == "free" || allow == "existing" || privileged {
        for v in state.vms.values().filter(|v| state.privileges_on(&format!("/vms/{}", v.vmid)).contains("VM.Audit")) {
            allowed.extend(
                v.config
                    .get("tags")
                    .into_iter()
                    .flat_map(|t| t.split([';', ',', ' ']))
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
        }
    }
    if privileged {
        allowed.extend(registered.iter().cloned());
    } else {
        allowed.retain(|t| !registered.contains(t));
    }
    (allowed, registered, allow == "free")
}

/// pve-guest-common `assert_tag_permissions`: every tag whose count changes between `old` and
/// `new` must be allowed (`raise_perm_exc("/, Sys.Modify for modifying tag '$tag'")`, 403).
pub(super) fn assert_permissions(state: &State, old: &str, new: &str) -> Result<(), String> {
    if state.privileges_on("/").contains("Sys.Modify") {
        return Ok(());
    }
    let split =
        |s: &str| -> Vec<String> { s.split([';', ',', ' ']).filter(|t| !t.is_empty()).map(str::to_string).collect() };
    let (old, new) = (split(old), split(new));
    let (allowed, registered, freeform) = allowed_tags(state);
    let mut all: Vec<&String> = old.iter().chain(new.iter()).collect();
    all.sort();
    all.dedup();
    for tag in all {
        if old.iter().filter(|t| *t == tag).count() == new.iter().filter(|t| *t == tag).count() {
            continue;
        }
        if (!allowed.contains(tag) && !freeform) || registered.contains(tag) {
            return Err(format!("Permission check failed (/, Sys.Modify for modifying tag '{tag}')"));
        }
    }
    Ok(())
}

/// `GET /cluster/options`: pve-manager `PVE/API2/Cluster.pm` `get_options` — the parsed
/// datacenter.cfg with Sys.Audit on `/` (else only `console` and `tag-style`; pve-cluster
/// `src/PVE/DataCenterConfig.pm` parses `user-tag-access` into an object and the tag lists
/// into arrays), plus `allowed-tags` for the user.
pub(super) fn options(state: &State) -> Value {
    let mut out = json!({});
    if state.tags_case_sensitive {
        out["tag-style"] = json!({"case-sensitive": 1});
    }
    if state.privileges_on("/").contains("Sys.Audit") {
        if state.user_allow != "free" || !state.user_allow_list.is_empty() {
            out["user-tag-access"] = json!({"user-allow": state.user_allow});
            if !state.user_allow_list.is_empty() {
                out["user-tag-access"]["user-allow-list"] = json!(state.user_allow_list);
            }
        }
        if !state.registered_tags.is_empty() {
            out["registered-tags"] = json!(state.registered_tags);
        }
    }
    out["allowed-tags"] = json!(allowed_tags(state).0);
    out
}
