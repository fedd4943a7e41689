//! Configuration keys ("details") and the trust level each may come from.
//!
//! CloudStack hands an extension details from four places. The host's details, the cluster
//! registration's and the extension's are set by operators. The instance's own
//! (`externaldetails.virtualmachine`, and `External:<key>` in `cloudstack.vm.details.details`)
//! come from the template and the service offering — **and from the instance's owner**, who
//! can edit them (`updateVirtualMachine details[…]`) or pass them to a custom action
//! (`runCustomAction externaldetails[…]`). So every key is declared with a [`Level`]:
//!
//! - [`Level::Operator`]: read only from the host, the extension and the cluster
//!   registration (in that order). Anything that chooses where a credential goes or which
//!   credential, what is trusted, what is logged and where, where files are written, which
//!   node, and every behaviour switch.
//! - [`Level::Instance`]: the instance's own details first, then the operator's levels
//!   (templates, ISOs, sizes, names).
//!
//! An operator key found among the instance's details is refused by name before anything
//! runs ([`refuse_misplaced`], called by the runner and by `doctor`), never silently used
//! and never silently ignored. Adapters declare their keys as constants and read them through
//! [`Payload::detail`](crate::Payload::detail), which only looks where the key's level allows.

use crate::error::{Error, Result};
use crate::payload::Payload;

/// Who may set a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Host, extension or cluster details only: set by operators.
    Operator,
    /// The instance's own details first (template, offering, the instance's owner), then
    /// the operator's levels.
    Instance,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Operator => "operator",
            Level::Instance => "instance",
        }
    }
}

/// One declared configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The detail's name, as operators set it (`url`, `template_id`).
    pub name: &'static str,
    pub level: Level,
    /// One line for `--help`.
    pub about: &'static str,
    /// Declared not to be a secret although its name looks like one (Proxmox's `token` is
    /// the token's *name*; its `secret` is the secret).
    pub public: bool,
}

impl Key {
    /// A key only operators set (host, extension or cluster details).
    pub const fn operator(name: &'static str, about: &'static str) -> Key {
        Key { name, level: Level::Operator, about, public: false }
    }
    /// A key the instance's own details may set (template, offering, instance).
    pub const fn instance(name: &'static str, about: &'static str) -> Key {
        Key { name, level: Level::Instance, about, public: false }
    }
    /// Not a secret, whatever its name suggests: shown and logged as it is.
    pub const fn public(mut self) -> Key {
        self.public = true;
        self
    }
    /// True when the value is a secret (shown as `set`, scrubbed from logs).
    pub fn is_secret(&self) -> bool {
        !self.public && crate::redact::is_secret_key(self.name)
    }
}

/// Where a detail came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `externaldetails.virtualmachine`.
    Instance,
    /// `External:<key>` in `cloudstack.vm.details.details`.
    InstanceExternal,
    Host,
    Extension,
    Cluster,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Instance => "instance details",
            Source::InstanceExternal => "instance details (External:)",
            Source::Host => "host details",
            Source::Extension => "extension details",
            Source::Cluster => "cluster details",
        }
    }
}

/// The keys every binary reads (the runner's own).
pub const LOG_FILE: Key = Key::operator(
    "log_file",
    "log file path, or `none` [default: /var/log/cloudstack/management/extensions/<binary>.log]",
);
pub const LOG_LEVEL: Key = Key::operator("log_level", "error, warn, info, debug or trace [default: info]");
/// The runner's keys, declared like an adapter's.
pub const RUNNER_KEYS: &[Key] = &[LOG_FILE, LOG_LEVEL];

impl Payload {
    /// Every value the payload carries for `name`, in precedence order, empty ones skipped.
    fn sources(&self, name: &str) -> impl Iterator<Item = (&str, Source)> {
        let ext = &self.externaldetails;
        let prefixed = self.vm.as_ref().and_then(|vm| {
            vm.details.iter().find(|(k, _)| k.strip_prefix("External:") == Some(name)).map(|(_, v)| v.as_str())
        });
        [
            (ext.virtualmachine.get(name).map(String::as_str), Source::Instance),
            (prefixed, Source::InstanceExternal),
            (ext.host.get(name).map(String::as_str), Source::Host),
            (ext.extension.get(name).map(String::as_str), Source::Extension),
            (ext.resourcemap.get(name).map(String::as_str), Source::Cluster),
        ]
        .into_iter()
        .filter_map(|(v, from)| Some((v?.trim(), from)))
        .filter(|(v, _)| !v.is_empty())
    }

    /// A detail with where it came from, looked up only where `key`'s level allows.
    pub fn detail_source(&self, key: &Key) -> Option<(&str, Source)> {
        self.sources(key.name).find(|(_, from)| {
            key.level == Level::Instance || !matches!(from, Source::Instance | Source::InstanceExternal)
        })
    }

    /// A detail, looked up only where `key`'s level allows (first match wins: instance
    /// details for instance keys, then host, extension, cluster).
    pub fn detail(&self, key: &Key) -> Option<&str> {
        self.detail_source(key).map(|(v, _)| v)
    }

    /// A detail that must be present.
    pub fn require_detail(&self, key: &Key) -> Result<&str> {
        self.detail(key).ok_or_else(|| {
            let wher = match key.level {
                Level::Operator => "set it as a host, extension or cluster detail",
                Level::Instance => {
                    "set it as a host, extension or cluster detail, or on the template or service offering"
                }
            };
            Error::bad_input(format!("missing configuration `{}`: {wher}", key.name))
        })
    }

    /// A boolean detail (`true/false/yes/no/1/0`), with a default.
    pub fn detail_bool(&self, key: &Key, default: bool) -> Result<bool> {
        match self.detail(key) {
            None => Ok(default),
            Some(v) => crate::loose::parse_bool(v)
                .ok_or_else(|| Error::bad_input(format!("detail `{}` must be true or false, found {v:?}", key.name))),
        }
    }

    /// A numeric detail.
    pub fn detail_u64(&self, key: &Key) -> Result<Option<u64>> {
        self.detail(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| Error::bad_input(format!("detail `{}` must be a whole number, found {v:?}", key.name)))
            })
            .transpose()
    }

    /// Where the instance's own details carry `name`, if they do (`External:name` or
    /// `externaldetails.virtualmachine`), spelt as CloudStack shows it.
    pub fn instance_level(&self, name: &str) -> Option<String> {
        self.sources(name).find_map(|(_, from)| match from {
            Source::Instance => Some(format!("`{name}` in externaldetails.virtualmachine")),
            Source::InstanceExternal => Some(format!("`External:{name}`")),
            _ => None,
        })
    }
}

/// The error for an operator key found among the instance's details.
pub fn misplaced(key: &Key, found: &str) -> Error {
    Error::bad_input(format!(
        "`{}` may be set only on the host, the cluster or the extension; this instance's details carry {found} \
         (instance details can be edited by the instance's owner): remove it from the instance, template or \
         service offering",
        key.name
    ))
}

/// Refuses the payload when an operator key is among the instance's details, naming the
/// first one found. The runner calls this before anything else runs; `doctor` reports it.
pub fn refuse_misplaced(p: &Payload, tables: &[&[Key]]) -> Result<()> {
    for key in tables.iter().flat_map(|t| t.iter()).filter(|k| k.level == Level::Operator) {
        if let Some(found) = p.instance_level(key.name) {
            return Err(misplaced(key, &found));
        }
    }
    Ok(())
}

/// The keys as `--help` lists them, by level.
pub fn help(tables: &[&[Key]]) -> String {
    let mut out = String::new();
    for (level, title) in [
        (Level::Operator, "Operator keys (host, extension or cluster details only):"),
        (Level::Instance, "Instance keys (instance, template or offering details, else host/extension/cluster):"),
    ] {
        let keys: Vec<&Key> = tables.iter().flat_map(|t| t.iter()).filter(|k| k.level == level).collect();
        if keys.is_empty() {
            continue;
        }
        out.push_str(title);
        out.push('\n');
        for k in keys {
            out.push_str(&format!("  {:<24} {}\n", k.name, k.about));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: Key = Key::operator("url", "");
    const TEMPLATE: Key = Key::instance("template_id", "");

    fn p(json: &str) -> Payload {
        Payload::from_slice(json.as_bytes()).unwrap()
    }

    #[test]
    fn operator_keys_never_read_instance_details() {
        let pl = p(r#"{"externaldetails":{"virtualmachine":{"url":"http://evil"},"host":{"url":"https://pve"},
            "extension":{"template_id":"9000"}},
          "cloudstack.vm.details":{"details":{"External:template_id":"9001"}}}"#);
        assert_eq!(pl.detail(&URL), Some("https://pve"));
        assert_eq!(pl.detail_source(&URL).unwrap().1, Source::Host);
        assert_eq!(pl.detail(&TEMPLATE), Some("9001"), "instance keys keep the instance first");
        let e = refuse_misplaced(&pl, &[&[URL, TEMPLATE]]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::BadInput);
        assert!(e.message().starts_with("`url` may be set only on the host"), "{}", e.message());
        assert!(e.message().contains("externaldetails.virtualmachine"), "{}", e.message());
    }

    #[test]
    fn external_prefixed_operator_key_is_refused_by_name() {
        let pl = p(r#"{"externaldetails":{"host":{"url":"https://pve"}},
          "cloudstack.vm.details":{"details":{"External:log_file":"/etc/passwd"}}}"#);
        let e = refuse_misplaced(&pl, &[RUNNER_KEYS, &[URL]]).unwrap_err();
        assert!(e.message().contains("`External:log_file`"), "{}", e.message());
        assert_eq!(pl.detail(&LOG_FILE), None);
        // Empty instance values are not "set".
        let pl = p(r#"{"cloudstack.vm.details":{"details":{"External:url":"  "}}}"#);
        assert!(refuse_misplaced(&pl, &[&[URL]]).is_ok());
    }

    #[test]
    fn missing_keys_say_where_to_set_them() {
        let pl = p("{}");
        assert!(pl.require_detail(&URL).unwrap_err().message().contains("host, extension or cluster detail"));
        assert!(pl.require_detail(&TEMPLATE).unwrap_err().message().contains("template or service offering"));
        assert!(help(&[&[URL, TEMPLATE]]).contains("Operator keys"));
    }
}
