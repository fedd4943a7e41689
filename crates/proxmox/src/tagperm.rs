//! May this token set csx's tags? Proxmox checks every tag a config update adds
//! (pve-guest-common `src/PVE/GuestHelpers.pm` `assert_tag_permissions`): without `Sys.Modify`
//! on `/`, a tag is refused (403 "/, Sys.Modify for modifying tag '…'") unless `user-tag-access`
//! is `free` (the default) or the tag is among the allowed ones (`get_allowed_tags`: the
//! `user-allow-list`, and with `existing` the tags already on a VM the user may audit), and a
//! `registered-tags` tag is always refused. csx records ownership and the instance name in
//! tags, so `create` asks before it clones (`GET /cluster/options`, pve-manager
//! `PVE/API2/Cluster.pm` `get_options`: the whole `datacenter.cfg` with `Sys.Audit` on `/`,
//! and always `allowed-tags`, the tags this user may set) instead of leaving half a VM.

use crate::client::{as_bool, Client};
use csx_core::Result;
use serde_json::Value;

/// The tags of `wanted` Proxmox would refuse this token, and the setting that refuses them;
/// `None` when all are allowed, or when the token may not read the setting (then the update
/// itself answers).
pub(crate) async fn refused(client: &Client, wanted: &[String]) -> Result<Option<String>> {
    let perms = client.get("/access/permissions", &[("path", "/".to_string())]).await?;
    let root = &perms["/"];
    if as_bool(&root["Sys.Modify"]) {
        return Ok(None);
    }
    let opts = client.get("/cluster/options", &[]).await?;
    Ok(judge(&opts, as_bool(&root["Sys.Audit"]), wanted))
}

/// [`refused`] on the answer of `GET /cluster/options`; `audit`: the whole config is in it.
fn judge(opts: &Value, audit: bool, wanted: &[String]) -> Option<String> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::Array(a) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
            Value::String(s) => s.split(';').filter(|t| !t.is_empty()).map(str::to_string).collect(),
            _ => vec![],
        }
    };
    let allowed = list(&opts["allowed-tags"]);
    let registered = list(&opts["registered-tags"]);
    let user_allow = opts["user-tag-access"]["user-allow"].as_str().unwrap_or("free");
    if !audit && wanted.iter().any(|t| !allowed.contains(t)) {
        // Without Sys.Audit, `user-allow` is not shown: `free` allows any tag, so do not guess.
        return None;
    }
    let bad: Vec<&String> =
        wanted.iter().filter(|t| registered.contains(t) || (user_allow != "free" && !allowed.contains(t))).collect();
    if bad.is_empty() {
        return None;
    }
    let names: Vec<&str> = bad.iter().map(|t| t.as_str()).collect();
    let why = if names.iter().any(|t| registered.iter().any(|r| r == t)) {
        "they are in Datacenter > Options > `registered-tags`".to_string()
    } else {
        format!("Datacenter > Options > `user-tag-access` is `user-allow={user_allow}`")
    };
    Some(format!(
        "Proxmox would refuse this token the tags csx records ownership and the instance name in ({}): {why}, \
         and the token lacks Sys.Modify on `/`. Set `user-tag-access` to `user-allow=free` (the default), or add \
         the `csx-` tags to its list, or grant the token Sys.Modify on `/`",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn judges_as_get_allowed_tags() {
        let want = vec!["csx-owner.u1".to_string(), "csx-iname.i-2-3-_v_m".to_string()];
        assert_eq!(judge(&json!({"allowed-tags": []}), true, &want), None, "default: free");
        let list = json!({"user-tag-access": {"user-allow": "list", "user-allow-list": ["x"]}, "allowed-tags": ["x"]});
        assert!(judge(&list, true, &want).unwrap().contains("user-allow=list"));
        let reg = json!({"registered-tags": ["csx-owner.u1"], "allowed-tags": []});
        assert!(judge(&reg, true, &want).unwrap().contains("registered-tags"));
        assert_eq!(judge(&list, false, &want), None, "cannot tell without Sys.Audit");
        let all = json!({"user-tag-access": {"user-allow": "existing"}, "allowed-tags": want.clone()});
        assert_eq!(judge(&all, true, &want), None);
    }
}
