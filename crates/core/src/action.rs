//! The actions of CloudStack's extension contract: the names CloudStack passes as argv[1],
//! resolved to [`Action`], and [`dispatch`] to the `Backend` method for each.

use crate::backend::{Backend, Request};
use crate::error::{Error, Result};
use crate::output::Reply;
use crate::params::CustomActionSpec;

/// The actions CloudStack itself names, matched exactly.
pub const STANDARD_ACTIONS: &[(&str, &str)] = &[
    ("prepare", "reserve hypervisor resources before the first create (prints a details patch)"),
    ("create", "create the instance and power it on"),
    ("start", "power the instance on"),
    ("stop", "power the instance off (succeeds when already off or gone)"),
    ("reboot", "reboot the instance (starts it when stopped)"),
    ("delete", "remove the instance and its disks (succeeds when already gone)"),
    ("status", "print the instance's power state"),
    ("statuses", "print the power state of every instance on the host"),
    ("getconsole", "print how to reach the instance's console"),
];

/// The action named by argv[1], resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Prepare,
    Create,
    Start,
    Stop,
    Reboot,
    Delete,
    Status,
    Statuses,
    Console,
    Custom(CustomActionSpec),
}

impl Action {
    /// Resolves argv[1]: standard names exactly, custom names case-insensitively.
    pub fn resolve(name: &str, custom: &[CustomActionSpec]) -> Result<Action> {
        Ok(match name {
            "prepare" => Action::Prepare,
            "create" => Action::Create,
            "start" => Action::Start,
            "stop" => Action::Stop,
            "reboot" => Action::Reboot,
            "delete" => Action::Delete,
            "status" => Action::Status,
            "statuses" => Action::Statuses,
            "getconsole" => Action::Console,
            other => match custom.iter().find(|c| c.matches(other)) {
                Some(spec) => Action::Custom(spec.clone()),
                None if other.starts_with("com.cloud.") => return Err(agent_command(other)),
                None => {
                    let mut names: Vec<&str> = STANDARD_ACTIONS.iter().map(|(n, _)| *n).collect();
                    names.extend(custom.iter().map(|c| c.name));
                    return Err(Error::unsupported(format!(
                        "unknown action `{other}`; this extension supports: {}",
                        names.join(", ")
                    )));
                }
            },
        })
    }

    fn needs_instance(&self) -> bool {
        !matches!(self, Action::Statuses)
    }
}

/// Runs one action against a backend and shapes the reply. Used by the runner
/// and by tests that drive a backend the way the binary does.
pub async fn dispatch(backend: &dyn Backend, action: &Action, req: &Request) -> Result<Reply> {
    if action.needs_instance() {
        req.payload.require_instance_name()?;
    }
    Ok(match action {
        Action::Prepare => Reply::Prepared(backend.prepare(req).await?),
        Action::Create => Reply::Done(backend.create(req).await?),
        Action::Start => Reply::Done(backend.start(req).await?),
        Action::Stop => Reply::Done(backend.stop(req).await?),
        Action::Reboot => Reply::Done(backend.reboot(req).await?),
        Action::Delete => Reply::Done(backend.delete(req).await?),
        Action::Status => Reply::Status(backend.status(req).await?),
        Action::Statuses => Reply::Statuses(backend.statuses(req).await?),
        Action::Console => Reply::Console(backend.console(req).await?),
        Action::Custom(spec) => {
            let params = spec.parse_params(req.payload.parameters.as_ref())?;
            Reply::Custom(backend.custom(spec.name, &params, req).await?)
        }
    })
}

/// The answer to an agent command CloudStack forwarded because the External host does not
/// handle it. No output can make such a command succeed: `ExternalResource` wraps whatever the
/// extension prints in a plain `Answer`, and the callers cast it to the command's own answer
/// type (a primary storage pool's `hostConnect` needs a `ModifyStoragePoolAnswer` with the
/// pool's capacity and path). So the error says what the operator should do instead.
fn agent_command(name: &str) -> Error {
    let short = name.rsplit('.').next().unwrap_or(name);
    if short.contains("StoragePool") {
        return Error::unsupported(format!(
            "CloudStack forwarded `{short}`: a primary storage pool was added to this extension's External \
             cluster. No extension can bring such a pool Up (CloudStack needs a {short}-specific answer \
             that extensions cannot return), and a pool that is not Up makes deployments fail with \
             \"No destination found\". Instances keep their disks on the hypervisor's own storage: \
             remove this primary storage pool from the External cluster (or scope it to another \
             cluster) and deploy again"
        ));
    }
    Error::unsupported(format!(
        "CloudStack forwarded agent command `{short}`, which an orchestrator extension cannot answer \
         (CloudStack expects a {short}-specific answer); the operation that sent it is not available for \
         External hosts"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_actions() {
        let custom = vec![CustomActionSpec::new("List Snapshots", "")];
        assert_eq!(Action::resolve("status", &custom).unwrap(), Action::Status);
        assert!(matches!(Action::resolve("list snapshots", &custom).unwrap(), Action::Custom(_)));
        assert_eq!(Action::resolve("Status", &custom).unwrap_err().kind(), crate::ErrorKind::Unsupported);
        let e = Action::resolve("com.cloud.agent.api.ModifyStoragePoolCommand", &custom).unwrap_err();
        assert!(e.message().contains("remove this primary storage pool"), "{}", e.message());
        let e = Action::resolve("com.cloud.agent.api.GetVmDiskStatsCommand", &custom).unwrap_err();
        assert!(e.message().contains("agent command `GetVmDiskStatsCommand`"), "{}", e.message());
        assert!(Action::resolve("nope", &custom).unwrap_err().message().contains("List Snapshots"));
    }
}
