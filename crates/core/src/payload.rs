//! The payload CloudStack writes for every invocation, as serde types.
//!
//! Gson omits nulls, so every field is optional; unknown fields are ignored;
//! scalars are accepted loosely (see [`crate::loose`]).

use crate::error::{Error, Result};
use crate::loose;
use serde::Deserialize;
use std::collections::BTreeMap;

/// String→string details, as CloudStack sends them.
pub type Details = BTreeMap<String, String>;

/// The whole payload file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payload {
    #[serde(default)]
    pub caller: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub externaldetails: ExternalDetails,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub virtualmachineid: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub virtualmachinename: Option<String>,
    #[serde(default, rename = "cloudstack.vm.details")]
    pub vm: Option<VmDetails>,
    /// Present for custom actions (and the `com.cloud.agent.api.*` fallback).
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub action: Option<String>,
    /// Typed custom action parameters (only when the action defines any).
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `externaldetails`: each map is optional and holds strings only.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ExternalDetails {
    #[serde(default, deserialize_with = "loose::string_map")]
    pub host: Details,
    #[serde(default, deserialize_with = "loose::string_map")]
    pub extension: Details,
    #[serde(default, deserialize_with = "loose::string_map")]
    pub resourcemap: Details,
    #[serde(default, deserialize_with = "loose::string_map")]
    pub virtualmachine: Details,
    #[serde(default, deserialize_with = "loose::string_map")]
    pub action: Details,
}

/// `cloudstack.vm.details`: CloudStack's VirtualMachineTO, the fields we use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmDetails {
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub id: Option<u64>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub state: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub host_name: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub cpus: Option<u64>,
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub min_ram: Option<u64>,
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub max_ram: Option<u64>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub arch: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub os: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub boot_type: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub vnc_password: Option<String>,
    #[serde(default, rename = "enableHA", deserialize_with = "loose::opt_bool")]
    pub enable_ha: Option<bool>,
    #[serde(default, deserialize_with = "loose::string_map")]
    pub details: Details,
    #[serde(default)]
    pub nics: Option<Vec<Nic>>,
}

/// One NIC (CloudStack's NicTO). Note: `uuid` is the *network*, `nic_uuid` the NIC.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Nic {
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub device_id: Option<u64>,
    #[serde(default, deserialize_with = "loose::opt_bool")]
    pub default_nic: Option<bool>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub nic_uuid: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub uuid: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub mac: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub ip: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub netmask: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub gateway: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub ip6address: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub broadcast_type: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub broadcast_uri: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub isolation_uri: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "loose::opt_u64")]
    pub mtu: Option<u64>,
}

/// A NIC's VLAN as derived from its broadcast URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vlan {
    /// No tag: `vlan://untagged`, or an empty or absent URI.
    Untagged,
    /// An 802.1Q tag, 1..=4094.
    Tagged(u16),
}

impl Nic {
    /// The VLAN from `broadcastUri`, the one place every adapter reads it.
    ///
    /// `vlan://<id>` is that tag; `vlan://untagged`, an empty or absent URI is no tag.
    /// Anything else (`vxlan://`, `pvlan://`, `lswitch:`, `vs://` from network
    /// extensions, a malformed tag) is refused by name: putting such a NIC on the
    /// host's untagged network would silently join the tenant to the native VLAN.
    pub fn vlan(&self) -> Result<Vlan> {
        let Some(uri) = self.broadcast_uri.as_deref().map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Vlan::Untagged);
        };
        let nic = self.device_id.map(|d| d.to_string()).unwrap_or_else(|| "?".into());
        let scheme_end = uri.find("://");
        let scheme = scheme_end.map(|i| &uri[..i]);
        if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("vlan")) {
            return Err(Error::unsupported(format!(
                "NIC {nic} has broadcast URI {uri:?}: csx can only place a NIC on a VLAN (vlan://<id>) or untagged \
                 (vlan://untagged); use a network offering with VLAN isolation for this extension's zone"
            )));
        }
        let rest = &uri[scheme_end.unwrap_or(0) + 3..];
        if rest.eq_ignore_ascii_case("untagged") {
            return Ok(Vlan::Untagged);
        }
        match rest.parse::<u16>() {
            Ok(tag) if (1..=4094).contains(&tag) && rest.bytes().all(|b| b.is_ascii_digit()) => Ok(Vlan::Tagged(tag)),
            _ => Err(Error::bad_input(format!(
                "NIC {nic} has broadcast URI {uri:?}, which is not a VLAN tag between 1 and 4094"
            ))),
        }
    }
}

impl Payload {
    /// Parses a payload, naming the JSON path of any type error.
    pub fn from_slice(bytes: &[u8]) -> Result<Payload> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Error::bad_input(format!("payload file is not UTF-8 text (invalid byte at offset {})", e.valid_up_to()))
        })?;
        if text.trim().is_empty() {
            return Err(Error::bad_input("payload file is empty"));
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::bad_input(format!("payload file is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Error::bad_input(format!("payload must be a JSON object, found {}", json_type_name(&value))));
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            Error::bad_input(format!("payload field `{path}` has the wrong type: {}", e.inner()))
        })
    }

    /// A value from `cloudstack.vm.details.details` (values returned by `prepare` live here).
    pub fn vm_detail(&self, key: &str) -> Option<&str> {
        self.vm.as_ref().and_then(|vm| vm.details.get(key)).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// The CloudStack instance name (`i-2-45-VM`).
    pub fn instance_name(&self) -> Option<&str> {
        self.virtualmachinename
            .as_deref()
            .or_else(|| self.vm.as_ref().and_then(|vm| vm.name.as_deref()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// The instance name, or a bad-input error naming what is missing.
    pub fn require_instance_name(&self) -> Result<&str> {
        self.instance_name().ok_or_else(|| {
            Error::bad_input("payload has no instance name (`virtualmachinename` or `cloudstack.vm.details.name`)")
        })
    }

    /// The CloudStack instance UUID.
    pub fn instance_uuid(&self) -> Option<&str> {
        self.virtualmachineid
            .as_deref()
            .or_else(|| self.vm.as_ref().and_then(|vm| vm.uuid.as_deref()))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }

    /// vCPU count (at least 1).
    pub fn cpus(&self) -> u64 {
        self.vm.as_ref().and_then(|vm| vm.cpus).unwrap_or(1).max(1)
    }

    /// Memory in MiB, rounded up, from `maxRam` (else `minRam`) bytes.
    pub fn ram_mib(&self) -> Option<u64> {
        let vm = self.vm.as_ref()?;
        vm.max_ram.or(vm.min_ram).filter(|b| *b > 0).map(|b| b.div_ceil(1024 * 1024))
    }

    /// NICs ordered by `deviceId` (NICs without one keep their order, last).
    pub fn nics(&self) -> Vec<&Nic> {
        let mut nics: Vec<&Nic> =
            self.vm.as_ref().and_then(|vm| vm.nics.as_ref()).map(|n| n.iter().collect()).unwrap_or_default();
        nics.sort_by_key(|n| n.device_id.unwrap_or(u64::MAX));
        nics
    }

    /// True when CloudStack marks this start as the first deployment.
    pub fn is_deploy(&self) -> bool {
        self.vm_detail("deployvm").and_then(loose::parse_bool).unwrap_or(false)
    }
}

fn json_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(json: &str) -> Payload {
        Payload::from_slice(json.as_bytes()).unwrap()
    }

    #[test]
    fn detail_precedence() {
        use crate::config::{Key, Source};
        let pl = p(r#"{"externaldetails":{
            "virtualmachine":{"a":"vm","e":""},
            "host":{"a":"host","b":"host","e":"host"},
            "extension":{"a":"ext","b":"ext","c":"ext"},
            "resourcemap":{"d":"map"}},
          "cloudstack.vm.details":{"details":{"External:b":"prefixed","External:c":"prefixed"}}}"#);
        let k = |name| Key::instance(name, "");
        assert_eq!(pl.detail(&k("a")), Some("vm"));
        assert_eq!(pl.detail(&k("b")), Some("prefixed"));
        assert_eq!(pl.detail(&k("c")), Some("prefixed"));
        assert_eq!(pl.detail(&k("d")), Some("map"));
        assert_eq!(pl.detail(&k("e")), Some("host"), "empty values fall through");
        assert_eq!(pl.detail_source(&k("b")), Some(("prefixed", Source::InstanceExternal)));
        assert_eq!(pl.detail_source(&k("d")), Some(("map", Source::Cluster)));
        assert_eq!(pl.detail_source(&k("e")), Some(("host", Source::Host)));
        assert_eq!(pl.detail(&Key::operator("a", "")), Some("host"), "operator keys skip the instance");
        assert_eq!(pl.detail(&Key::operator("c", "")), Some("ext"));
        assert_eq!(pl.detail(&k("zz")), None);
        assert!(pl.require_detail(&k("zz")).unwrap_err().message().contains("`zz`"));
    }

    #[test]
    fn gson_escapes_and_loose_numbers() {
        let pl =
            p(r#"{"virtualmachinename":"i-2-45-VM","cloudstack.vm.details":{"name":"x","cpus":"2","maxRam":536870913,
            "details":{"deployvm":"true","k":"a\u003db"}}}"#);
        assert_eq!(pl.instance_name(), Some("i-2-45-VM"));
        assert_eq!(pl.cpus(), 2);
        assert_eq!(pl.ram_mib(), Some(513));
        assert!(pl.is_deploy());
        assert_eq!(pl.vm_detail("k"), Some("a=b"));
    }

    #[test]
    fn nics_sorted_and_vlans() {
        let pl = p(r#"{"cloudstack.vm.details":{"nics":[
            {"deviceId":2,"broadcastUri":"vlan://untagged"},
            {"deviceId":0,"broadcastUri":"vlan://1577"},
            {"deviceId":1},
            {"deviceId":3,"broadcastUri":"vlan://9999"},
            {"deviceId":4,"broadcastUri":"vxlan://5000"},
            {"deviceId":5,"broadcastUri":"","isolationUri":"vxlan://5000"},
            {"deviceId":6,"broadcastUri":"VLAN://12"}]}}"#);
        let nics = pl.nics();
        assert_eq!(nics.iter().map(|n| n.device_id.unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(nics[0].vlan().unwrap(), Vlan::Tagged(1577));
        assert_eq!(nics[1].vlan().unwrap(), Vlan::Untagged);
        assert_eq!(nics[2].vlan().unwrap(), Vlan::Untagged);
        assert_eq!(nics[3].vlan().unwrap_err().kind(), crate::ErrorKind::BadInput);
        assert_eq!(nics[5].vlan().unwrap(), Vlan::Untagged, "an empty broadcast URI is untagged");
        assert_eq!(nics[6].vlan().unwrap(), Vlan::Tagged(12));
    }

    #[test]
    fn broadcast_uris_csx_cannot_honour_are_refused_by_name() {
        for uri in
            ["vxlan://5000", "pvlan://100-i200", "lswitch:3b1f", "vs://net-7", "vlan://", "vlan://+5", "vlan://12a"]
        {
            let nic = Nic { device_id: Some(1), broadcast_uri: Some(uri.into()), ..Default::default() };
            let e = nic.vlan().unwrap_err();
            assert!(e.message().contains(uri), "{uri}: {}", e.message());
            assert!(e.message().contains("NIC 1"), "{}", e.message());
        }
    }

    #[test]
    fn bad_payloads_are_bad_input_with_paths() {
        for (input, needle) in [
            (&b""[..], "empty"),
            (b"   \n", "empty"),
            (b"{", "not valid JSON"),
            (b"[1,2]", "an array"),
            (b"\xff\xfe{}", "UTF-8"),
            (br#"{"externaldetails":{"host":[1]}}"#, "externaldetails.host"),
            (br#"{"cloudstack.vm.details":{"cpus":"two"}}"#, "cpus"),
        ] {
            let e = Payload::from_slice(input).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::BadInput);
            assert!(e.message().contains(needle), "{:?}: {}", String::from_utf8_lossy(input), e.message());
        }
    }
}
