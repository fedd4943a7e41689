//! Which hypervisor VM is which CloudStack instance: the one ownership rule and
//! the one naming rule every adapter applies.
//!
//! - **Ownership.** A VM csx creates carries its instance's uuid (a mark). When an
//!   action looks for "its" VM, a VM marked with this instance's uuid is mine; a VM
//!   with no mark at all was made by CloudStack's built-in extension and is mine too;
//!   a VM marked with another uuid belongs to another CloudStack instance (another
//!   installation sharing the host) and is never touched: `stop` and `delete` treat
//!   it as absent (nothing to do), `status` reports the instance powered off, every
//!   other action refuses it with a `conflict` error.
//! - **Names.** CloudStack matches the keys of a `statuses` answer to its internal
//!   instance names (`i-2-60-VM`) and treats an instance missing from the answer as
//!   powered off. A VM csx creates also records that internal name, and `statuses`
//!   keys every VM by it. A VM without the record is reported under its own name only
//!   when that name is itself an internal instance name (every VM the built-in
//!   extensions made); any other VM is left out, never reported under a guess.

use crate::backend::PowerState;
use crate::error::{Error, Result};
use std::collections::BTreeMap;

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
}

/// Classifies a VM by the uuid its mark holds (`None`: no mark) against this
/// instance's uuid. Without a uuid of our own, any marked VM is foreign.
pub fn ownership(mark: Option<&str>, ours: Option<&str>) -> Ownership {
    match (mark.map(str::trim).filter(|m| !m.is_empty()), ours) {
        (None, _) => Ownership::Unmarked,
        (Some(m), Some(o)) if m.eq_ignore_ascii_case(o.trim()) => Ownership::Mine,
        (Some(m), _) => Ownership::Foreign(m.to_string()),
    }
}

/// The outcome of looking for an instance's VM among candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick<T> {
    /// The instance's VM.
    Mine(T),
    /// Only VMs of other CloudStack instances carry this name (their uuid, one of them).
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

/// The conflict error for a VM that belongs to another instance.
pub fn foreign(what: &str, theirs: &str) -> Error {
    Error::conflict(format!(
        "{what} belongs to another CloudStack instance ({OWNER_MARK}{theirs}); refusing to touch it"
    ))
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
            Ownership::Foreign(u) => foreign = foreign.or(Some(u)),
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
        assert_eq!(pick(vec![(1, Ownership::Foreign("x".into()))], d).unwrap(), Pick::Foreign("x".into()));
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
