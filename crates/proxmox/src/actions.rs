//! The custom actions' dispatch: the built-in extension's snapshot actions (`snapshots`), the
//! operator actions (`operations`: suspend, resume, guest addresses, migration) and the disk
//! actions (`disks`). The actions are declared in `declared`.

use crate::declared::ProxmoxAction;
use crate::session::Session;
use crate::{disks, operations, snapshots};
use csx_core::{CustomResult, Params, Result};

/// Runs one custom action on this instance's VM.
pub(crate) async fn run(s: &Session<'_>, action: ProxmoxAction, params: &Params) -> Result<CustomResult> {
    use ProxmoxAction::*;
    match action {
        ListSnapshots | CreateSnapshot | RestoreSnapshot | DeleteSnapshot => snapshots::run(s, action, params).await,
        Suspend | Resume | GetIpAddresses | Migrate => operations::run(s, action, params).await,
        AddDisk | ListDisks | ResizeDisk | RemoveDisk => disks::run(s, action, params).await,
    }
}
