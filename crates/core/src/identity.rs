//! Which hypervisor VM is which CloudStack instance: the one ownership rule and
//! the one naming rule every adapter applies.
//!
//! - **Ownership.** A VM csx creates carries its instance's uuid (a mark). When an
//!   action looks for "its" VM, a VM marked with this instance's uuid is mine; a VM
//!   with no mark at all (made by CloudStack's built-in extension, or an older csx) is
//!   adopted only when its name is the instance's *internal* name (which no user can
//!   change; `vm_name`, an instance detail, never adopts) and, where the adapter has a
//!   reserved id for the instance, it is that VM — or when the operator opted in with
//!   `adopt_unmarked=true`; a VM marked with another uuid belongs to another CloudStack
//!   instance (another installation sharing the host). A VM that is not mine is never
//!   touched: `stop` and `delete` treat it as absent (nothing to do), `status` reports
//!   the instance powered off, every other action refuses it with a `conflict` error.
//! - **Installations.** Two CloudStack installations may share a hypervisor. With the
//!   operator key `installation_id` set, every VM csx creates records it, and `statuses`
//!   never reports a VM that records another installation ([`same_installation`]).
//! - **Names.** CloudStack matches the keys of a `statuses` answer to its internal
//!   instance names (`i-2-60-VM`) and treats an instance missing from the answer as
//!   powered off. A VM csx creates also records that internal name, and `statuses`
//!   keys every VM by it. A VM without the record is reported under its own name only
//!   when that name is itself an internal instance name (every VM the built-in
//!   extensions made); any other VM is left out, never reported under a guess.

use crate::backend::PowerState;
use crate::config::Key;
use crate::error::{Error, Result};
use crate::payload::Payload;
use std::collections::BTreeMap;

/// Operator key: adopt any unmarked VM found under the instance's VM name, not only one named
/// after the instance's internal name (for VMs made by hand or renamed before csx).
pub const ADOPT_UNMARKED: Key = Key::operator(
    "adopt_unmarked",
    "adopt a VM without csx's owner mark under any name csx looks for, not only the instance's internal name [default: false]",
);
/// Operator key: this CloudStack installation's marker (letters, digits, `-`, `_`, `.`; at most 40).
pub const INSTALLATION_ID: Key = Key::operator(
    "installation_id",
    "marker recorded on every VM csx creates; `statuses` leaves out VMs of another installation (set a distinct one on each CloudStack sharing a hypervisor)",
);
/// Text mark followed by the installation marker.
pub const INSTALLATION_MARK: &str = "cloudstack-installation=";

/// Text mark followed by the owning CloudStack instance's uuid.
pub const OWNER_MARK: &str = "cloudstack-instance-uuid=";
/// Text mark followed by the CloudStack internal instance name.
pub const NAME_MARK: &str = "cloudstack-instance-name=";

/// The value following `mark` in free text (a description, Hyper-V notes), up to white space.
pub fn find_mark<'a>(text: &'a str, mark: &str) -> Option<&'a str> {
    let pos = text.find(mark)?;
    let rest = &text[pos + mark.len()..];
    Some(rest.split_whitespace().next().unwrap_or("")).filter(|v| !v.is_empty())
}

/// Whose a VM is, from the owner mark it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// Marked with this instance's uuid.
    Mine,
    /// No mark: made by the built-in extension (or by hand) under this name; adopted.
    Unmarked,
    /// Marked with another instance's uuid (given).
    Foreign(String),
    /// No mark, and not adoptable: not named after this instance's internal name (the VM's
    /// name given), or not the VM reserved for it.
    Stranger(String),
}

/// What one invocation claims as its instance's: the uuid, the internal name, the id the
/// adapter reserved for it (Proxmox's `proxmox_vmid`), and the operator's adoption switch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claim {
    pub uuid: Option<String>,
    /// `cloudstack.vm.details.name` / `virtualmachinename`: set by CloudStack, never by users.
    pub internal_name: Option<String>,
    /// The hypervisor id reserved for the instance, when the adapter has one.
    pub id_hint: Option<String>,
    pub adopt_unmarked: bool,
}

impl Claim {
    /// The claim of this payload's instance (reads operator key `adopt_unmarked`).
    pub fn of(p: &Payload) -> Result<Claim> {
        Ok(Claim {
            uuid: p.instance_uuid().map(str::to_string),
            internal_name: p.instance_name().map(str::to_string),
            id_hint: None,
            adopt_unmarked: p.detail_bool(&ADOPT_UNMARKED, false)?,
        })
    }

    /// With the id the adapter reserved for this instance.
    pub fn with_hint(mut self, id: Option<impl ToString>) -> Claim {
        self.id_hint = id.map(|i| i.to_string());
        self
    }

    /// Whose a VM is: `mark` is the owner uuid it carries (`None`: no mark), `vm_name` and
    /// `vm_id` what the hypervisor calls it. An unmarked VM is adopted only under the
    /// instance's internal name (and, with a reserved id, only that VM), or with
    /// `adopt_unmarked`; any other unmarked VM is [`Ownership::Stranger`].
    pub fn ownership(&self, mark: Option<&str>, vm_name: &str, vm_id: Option<&str>) -> Ownership {
        match (mark.map(str::trim).filter(|m| !m.is_empty()), self.uuid.as_deref()) {
            (Some(m), Some(o)) if m.eq_ignore_ascii_case(o.trim()) => Ownership::Mine,
            (Some(m), _) => Ownership::Foreign(m.to_string()),
            (None, _) if self.adopt_unmarked => Ownership::Unmarked,
            (None, _) => {
                let named = self.internal_name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(vm_name.trim()));
                let same_id = match (self.id_hint.as_deref(), vm_id) {
                    (Some(h), Some(id)) => h == id,
                    _ => true,
                };
                if named && same_id {
                    Ownership::Unmarked
                } else {
                    Ownership::Stranger(vm_name.to_string())
                }
            }
        }
    }
}

/// Classifies a VM by the uuid its mark holds (`None`: no mark) against this
/// instance's uuid alone (any unmarked VM adoptable). Without a uuid of our own, any
/// marked VM is foreign. Adapters use [`Claim::ownership`], which also applies the
/// adoption rule.
pub fn ownership(mark: Option<&str>, ours: Option<&str>) -> Ownership {
    match (mark.map(str::trim).filter(|m| !m.is_empty()), ours) {
        (None, _) => Ownership::Unmarked,
        (Some(m), Some(o)) if m.eq_ignore_ascii_case(o.trim()) => Ownership::Mine,
        (Some(m), _) => Ownership::Foreign(m.to_string()),
    }
}

/// Whether a VM recording installation marker `vm` (`None`: none) may be reported by an
/// installation whose own marker is `ours`: a VM recording another installation never is;
/// one recording none (made before markers, or by the built-in extension) is.
pub fn same_installation(vm: Option<&str>, ours: Option<&str>) -> bool {
    match (vm.map(str::trim).filter(|v| !v.is_empty()), ours.map(str::trim).filter(|o| !o.is_empty())) {
        (None, _) => true,
        (Some(v), Some(o)) => v.eq_ignore_ascii_case(o),
        (Some(_), None) => false,
    }
}

/// This installation's marker (operator key `installation_id`), validated.
pub fn installation(p: &Payload) -> Result<Option<&str>> {
    match p.detail(&INSTALLATION_ID) {
        None => Ok(None),
        Some(id) if id.len() <= 40 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) => {
            Ok(Some(id))
        }
        Some(id) => Err(Error::bad_input(format!(
            "detail `installation_id` must be at most 40 letters, digits, `-`, `_` or `.`, found {id:?}"
        ))),
    }
}

/// The outcome of looking for an instance's VM among candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick<T> {
    /// The instance's VM.
    Mine(T),
    /// Only VMs that are not this instance's carry this name: why (see [`foreign`]).
    Foreign(String),
    /// No VM at all.
    Missing,
}

impl<T> Pick<T> {
    /// The VM if it is mine; for actions that treat a foreign VM as absent (stop, delete, status).
    pub fn mine(self) -> Option<T> {
        match self {
            Pick::Mine(t) => Some(t),
            _ => None,
        }
    }

    /// The VM if mine, `None` if there is none, `conflict` if only another instance's
    /// VM carries the name; for `create`, which makes the VM when there is none.
    pub fn require_or_missing(self, what: &str) -> Result<Option<T>> {
        match self {
            Pick::Mine(t) => Ok(Some(t)),
            Pick::Foreign(theirs) => Err(foreign(what, &theirs)),
            Pick::Missing => Ok(None),
        }
    }

    /// The VM, or `not_found` / `conflict` naming `what`; for actions that need the VM.
    pub fn require(self, what: &str) -> Result<T> {
        match self {
            Pick::Mine(t) => Ok(t),
            Pick::Foreign(theirs) => Err(foreign(what, &theirs)),
            Pick::Missing => Err(Error::not_found(format!("{what} does not exist"))),
        }
    }
}

/// The conflict error for a VM that is not this instance's; `why` as [`Pick::Foreign`] holds it.
pub fn foreign(what: &str, why: &str) -> Error {
    Error::conflict(format!("{what} {why}; refusing to touch it"))
}

fn why_foreign(o: &Ownership) -> Option<String> {
    match o {
        Ownership::Foreign(u) => Some(format!("belongs to another CloudStack instance ({OWNER_MARK}{u})")),
        Ownership::Stranger(name) => Some(format!(
            "({name}) has no csx owner mark and is not this instance's VM: csx adopts an unmarked VM only when \
             it is named after the instance's internal name (operator key `adopt_unmarked=true` adopts any)"
        )),
        _ => None,
    }
}

/// Applies the ownership rule to every candidate VM found under the instance's name:
/// exactly one marked mine wins, else exactly one unmarked, else a foreign one makes
/// the answer `Foreign`. Several of mine (or several unmarked, none mine) is a conflict
/// naming them (`describe` says which VM a candidate is).
pub fn pick<T>(candidates: Vec<(T, Ownership)>, describe: impl Fn(&T) -> String) -> Result<Pick<T>> {
    let mut mine = Vec::new();
    let mut unmarked = Vec::new();
    let mut foreign = None;
    for (t, o) in candidates {
        match o {
            Ownership::Mine => mine.push(t),
            Ownership::Unmarked => unmarked.push(t),
            other => foreign = foreign.or(why_foreign(&other)),
        }
    }
    let several = |v: &[T], what: &str| {
        let list: Vec<String> = v.iter().map(&describe).collect();
        Error::conflict(format!("several VMs {what}: {}; remove or rename the extra ones", list.join(", ")))
    };
    if mine.len() > 1 {
        return Err(several(&mine, "carry this instance's mark"));
    }
    if let Some(t) = mine.pop() {
        return Ok(Pick::Mine(t));
    }
    if unmarked.len() > 1 {
        return Err(several(&unmarked, "without an owner mark have this instance's name"));
    }
    if let Some(t) = unmarked.pop() {
        return Ok(Pick::Mine(t));
    }
    Ok(foreign.map(Pick::Foreign).unwrap_or(Pick::Missing))
}

/// True when `name` has the shape of a CloudStack internal instance name,
/// `i-<account id>-<vm id>-<suffix>` (the suffix is the `instance.name` setting, `VM` by default).
pub fn is_instance_name(name: &str) -> bool {
    let mut parts = name.splitn(4, '-');
    let digits = |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    parts.next() == Some("i")
        && digits(parts.next())
        && digits(parts.next())
        && parts.next().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic()))
}

/// The key a VM gets in a `statuses` answer: its recorded instance name, else its own
/// name when that is an instance name; `None` (left out) otherwise.
pub fn statuses_key(recorded: Option<&str>, hypervisor_name: &str) -> Option<String> {
    match recorded.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Some(r.to_string()),
        None if is_instance_name(hypervisor_name) => Some(hypervisor_name.to_string()),
        None => None,
    }
}

/// Adds one VM's state to a `statuses` map. Two VMs under one key (two CloudStack
/// installations sharing a host, with colliding names) that disagree give `Unknown`:
/// the answer never claims a state it cannot know.
pub fn add_status(map: &mut BTreeMap<String, PowerState>, key: String, state: PowerState) {
    map.entry(key)
        .and_modify(|s| {
            if *s != state {
                *s = PowerState::Unknown;
            }
        })
        .or_insert(state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_in_text() {
        let d = "Managed by csx. cloudstack-instance-uuid=abc-1 cloudstack-instance-name=i-2-3-VM\nmore";
        assert_eq!(find_mark(d, OWNER_MARK), Some("abc-1"));
        assert_eq!(find_mark(d, NAME_MARK), Some("i-2-3-VM"));
        assert_eq!(find_mark("nothing", OWNER_MARK), None);
        assert_eq!(find_mark("cloudstack-instance-uuid= ", OWNER_MARK), None);
    }

    #[test]
    fn ownership_rule() {
        assert_eq!(ownership(Some("A"), Some("a")), Ownership::Mine);
        assert_eq!(ownership(None, Some("a")), Ownership::Unmarked);
        assert_eq!(ownership(Some("b"), Some("a")), Ownership::Foreign("b".into()));
        assert_eq!(ownership(Some("b"), None), Ownership::Foreign("b".into()));
        let d = |n: &u32| n.to_string();
        assert_eq!(pick(vec![(1, Ownership::Foreign("x".into())), (2, Ownership::Mine)], d).unwrap(), Pick::Mine(2));
        assert_eq!(
            pick(vec![(1, Ownership::Foreign("x".into())), (2, Ownership::Unmarked)], d).unwrap(),
            Pick::Mine(2)
        );
        let Pick::Foreign(why) = pick(vec![(1, Ownership::Foreign("x".into()))], d).unwrap() else { panic!() };
        assert!(why.contains("another CloudStack instance (cloudstack-instance-uuid=x)"), "{why}");
        assert_eq!(pick(Vec::<(u32, Ownership)>::new(), d).unwrap(), Pick::Missing);
        let e = pick(vec![(1, Ownership::Mine), (2, Ownership::Mine)], d).unwrap_err();
        assert!(e.message().contains("1, 2"), "{}", e.message());
        assert!(pick(vec![(1, Ownership::Unmarked), (2, Ownership::Unmarked)], d).is_err());
        assert_eq!(pick(vec![(1, Ownership::Unmarked), (2, Ownership::Mine)], d).unwrap(), Pick::Mine(2));
        let e = Pick::<u32>::Foreign("x".into()).require("VM 7").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        assert_eq!(Pick::<u32>::Missing.require("VM 7").unwrap_err().kind(), crate::ErrorKind::NotFound);
    }

    #[test]
    fn adoption_only_under_the_internal_name() {
        let claim = Claim {
            uuid: Some("u1".into()),
            internal_name: Some("i-2-45-VM".into()),
            id_hint: None,
            adopt_unmarked: false,
        };
        assert_eq!(claim.ownership(None, "i-2-45-VM", Some("100")), Ownership::Unmarked);
        assert_eq!(claim.ownership(None, "web-1", Some("100")), Ownership::Stranger("web-1".into()));
        assert_eq!(claim.ownership(Some("U1"), "web-1", None), Ownership::Mine, "a mark wins over names");
        assert_eq!(claim.ownership(Some("u2"), "i-2-45-VM", None), Ownership::Foreign("u2".into()));
        let hinted = claim.clone().with_hint(Some(100));
        assert_eq!(hinted.ownership(None, "i-2-45-VM", Some("100")), Ownership::Unmarked);
        assert_eq!(hinted.ownership(None, "i-2-45-VM", Some("101")), Ownership::Stranger("i-2-45-VM".into()));
        let opted = Claim { adopt_unmarked: true, ..claim };
        assert_eq!(opted.ownership(None, "web-1", None), Ownership::Unmarked);
        let e = pick(vec![(1, Ownership::Stranger("web-1".into()))], |n: &u32| n.to_string())
            .unwrap()
            .require("Proxmox VM web-1")
            .unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Conflict);
        assert!(e.message().contains("adopt_unmarked"), "{}", e.message());
    }

    #[test]
    fn installations_never_mix() {
        assert!(same_installation(None, None));
        assert!(same_installation(None, Some("a")), "unmarked VMs predate markers");
        assert!(same_installation(Some("A"), Some("a")));
        assert!(!same_installation(Some("b"), Some("a")));
        assert!(!same_installation(Some("b"), None), "another installation set a marker, this one did not");
        let p = |v: &str| {
            Payload::from_slice(
                format!(r#"{{"externaldetails":{{"extension":{{"installation_id":"{v}"}}}}}}"#).as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(installation(&p("cs-prod")).unwrap(), Some("cs-prod"));
        assert!(installation(&p("a b")).is_err());
    }

    #[test]
    fn statuses_keys() {
        assert!(is_instance_name("i-2-60-VM"));
        assert!(is_instance_name("i-12-3456-cloud"));
        for n in ["web-frontend-1", "i-2-VM", "i-x-3-VM", "i-2-3-", "r-2-3-VM", "i-2-3-a b"] {
            assert!(!is_instance_name(n), "{n}");
        }
        assert_eq!(statuses_key(Some("i-2-60-VM"), "web-frontend-1").as_deref(), Some("i-2-60-VM"));
        assert_eq!(statuses_key(None, "i-2-61-VM").as_deref(), Some("i-2-61-VM"));
        assert_eq!(statuses_key(None, "web-frontend-1"), None);
        let mut m = BTreeMap::new();
        add_status(&mut m, "a".into(), PowerState::On);
        add_status(&mut m, "a".into(), PowerState::On);
        add_status(&mut m, "b".into(), PowerState::On);
        add_status(&mut m, "b".into(), PowerState::Off);
        assert_eq!(m["a"], PowerState::On);
        assert_eq!(m["b"], PowerState::Unknown);
    }
}
