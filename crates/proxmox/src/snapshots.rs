//! The built-in extension's snapshot actions: list, create, restore (and start), delete.

use crate::client::{as_bool, as_u64, seg};
use crate::config::check_snapshot_name;
use crate::declared::ProxmoxAction;
use crate::session::Session;
use csx_core::time::utc;
use csx_core::{CustomResult, Error, Params, Result};
use reqwest::Method;
use serde_json::Value;

/// Runs one of the snapshot actions on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    let snap = params.str("snap_name").map(str::to_string);
    if let Some(n) = &snap {
        check_snapshot_name(n)?;
    }
    let l = s.require().await?;
    let snap = snap.unwrap_or_default();
    match action {
        ProxmoxAction::ListSnapshots => {
            let list = s.client.get(&l.path("/snapshot"), &[]).await?;
            let mut rows: Vec<&Value> =
                list.as_array().into_iter().flatten().filter(|x| x["name"].as_str() != Some("current")).collect();
            rows.sort_by_key(|x| as_u64(&x["snaptime"]).unwrap_or(0));
            Ok(CustomResult::Table(
                rows.into_iter()
                    .map(|x| {
                        let mut m = serde_json::Map::new();
                        m.insert("name".into(), x["name"].clone());
                        m.insert(
                            "snaptime".into(),
                            as_u64(&x["snaptime"]).map(utc).unwrap_or_else(|| "-".into()).into(),
                        );
                        m.insert("description".into(), x["description"].as_str().unwrap_or("").into());
                        m.insert("parent".into(), x["parent"].as_str().unwrap_or("-").into());
                        m.insert("vmstate".into(), if as_bool(&x["vmstate"]) { "yes" } else { "no" }.into());
                        m
                    })
                    .collect(),
            ))
        }
        ProxmoxAction::CreateSnapshot => {
            let mut form = vec![
                ("snapname", snap.clone()),
                ("vmstate", if params.bool("snap_save_memory").unwrap_or(false) { "1" } else { "0" }.to_string()),
            ];
            if let Some(d) = params.str("snap_description").filter(|d| !d.is_empty()) {
                form.push(("description", d.to_string()));
            }
            s.client.run_task(Method::POST, &l.path("/snapshot"), &form).await?;
            Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} created", l.vmid)))
        }
        ProxmoxAction::RestoreSnapshot => {
            let path = l.path(&format!("/snapshot/{}/rollback", seg(&snap)));
            s.client.run_task(Method::POST, &path, &[("start", "1".to_string())]).await?;
            Ok(CustomResult::Message(format!("VM {} restored to snapshot {snap} and running", l.vmid)))
        }
        ProxmoxAction::DeleteSnapshot => {
            s.client.run_task(Method::DELETE, &l.path(&format!("/snapshot/{}", seg(&snap))), &[]).await?;
            Ok(CustomResult::Message(format!("Snapshot {snap} of VM {} deleted", l.vmid)))
        }
        _ => Err(Error::internal("not a snapshot action")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_727_110_835), "2024-09-23 17:00:35 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
