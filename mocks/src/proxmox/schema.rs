//! Request validation against Proxmox VE's own API schema (parameters of the
//! endpoints csx uses, extracted into `mocks/pve-schema.json`).
//!
//! Mirrors what pve-http-server does before a handler runs: unknown parameters
//! are rejected when `additionalProperties` is 0, required ones must be present,
//! and every value must match its type, range, enum and format — including
//! property strings such as `net0=virtio=…,bridge=vmbr0,tag=100`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::OnceLock;

fn schema() -> &'static Map<String, Value> {
    static SCHEMA: OnceLock<Map<String, Value>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let v: Value = serde_json::from_str(include_str!("../../pve-schema.json")).expect("pve-schema.json parses");
        v["endpoints"].as_object().cloned().unwrap_or_default()
    })
}

/// Validates `params` (path parameters included) for `METHOD /path/template`.
/// Returns the per-parameter errors Proxmox would answer with HTTP 400.
pub fn validate(endpoint: &str, params: &BTreeMap<String, String>) -> Result<(), BTreeMap<String, String>> {
    let Some(ep) = schema().get(endpoint) else {
        return Err([("endpoint".to_string(), format!("mock has no schema for {endpoint}"))].into());
    };
    let props = ep["properties"].as_object().cloned().unwrap_or_default();
    let strict = ep["additionalProperties"].as_i64() == Some(0);
    let mut errors = BTreeMap::new();
    for (name, value) in params {
        match lookup(&props, name) {
            Some(spec) => {
                if let Err(e) = check(spec, value) {
                    errors.insert(name.clone(), e);
                }
            }
            None if strict => {
                errors.insert(
                    name.clone(),
                    "property is not defined in schema and the schema does not allow additional properties".into(),
                );
            }
            None => {}
        }
    }
    for (name, spec) in &props {
        if spec["optional"].as_i64() != Some(1) && !name.contains("[n]") && !params.contains_key(name) {
            errors.insert(name.clone(), "property is missing and it is not optional".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `net0` matches the schema's `net[n]`.
fn lookup<'a>(props: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    props.get(name).or_else(|| {
        let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
        (base.len() < name.len()).then(|| props.get(&format!("{base}[n]"))).flatten()
    })
}

fn check(spec: &Value, value: &str) -> Result<(), String> {
    match spec["type"].as_str().unwrap_or("string") {
        "integer" => {
            let n: i64 = value.trim().parse().map_err(|_| format!("type check ('integer') failed - got '{value}'"))?;
            range(spec, n as f64, value)?;
        }
        "number" => {
            let n: f64 = value.trim().parse().map_err(|_| format!("type check ('number') failed - got '{value}'"))?;
            range(spec, n, value)?;
        }
        "boolean" => {
            if !matches!(
                value.to_ascii_lowercase().as_str(),
                "0" | "1" | "true" | "false" | "on" | "off" | "yes" | "no"
            ) {
                return Err(format!("type check ('boolean') failed - got '{value}'"));
            }
        }
        _ => {
            if let Some(max) = spec["maxLength"].as_u64() {
                if value.len() as u64 > max {
                    return Err(format!("value may only be {max} characters long"));
                }
            }
            if let Some(options) = spec["enum"].as_array() {
                if !options.iter().any(|o| o.as_str() == Some(value)) {
                    return Err(format!("value '{value}' does not have a value in the enumeration"));
                }
            }
            match &spec["format"] {
                Value::Object(fmt) => property_string(fmt, value)?,
                Value::String(f) => named_format(f, value)?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn range(spec: &Value, n: f64, raw: &str) -> Result<(), String> {
    let num = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    if let Some(min) = num(&spec["minimum"]) {
        if n < min {
            return Err(format!("value must have a minimum value of {min} - got '{raw}'"));
        }
    }
    if let Some(max) = num(&spec["maximum"]) {
        if n > max {
            return Err(format!("value must have a maximum value of {max} - got '{raw}'"));
        }
    }
    Ok(())
}

/// `k=v,k=v` with an optional bare default-key value and `model=mac` key aliases.
fn property_string(fmt: &Map<String, Value>, value: &str) -> Result<(), String> {
    let default_key = fmt.iter().find(|(_, s)| s["default_key"].as_i64() == Some(1)).map(|(k, _)| k.clone());
    let mut seen = Vec::new();
    for part in value.split(',').filter(|p| !p.is_empty()) {
        let (key, val) = match part.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => match &default_key {
                Some(k) => (k.clone(), part.to_string()),
                None => return Err(format!("value without key, but schema does not define a default key: '{part}'")),
            },
        };
        let spec = fmt.get(&key).ok_or_else(|| format!("invalid format - unknown property '{key}'"))?;
        if let (Some(alias), Some(key_alias)) = (spec["alias"].as_str(), spec["keyAlias"].as_str()) {
            // `virtio=MAC`: the key is the value of `model`, the value is `macaddr`.
            check(&fmt[key_alias], &key).map_err(|e| format!("invalid format - {key_alias}: {e}"))?;
            check(&fmt[alias], &val).map_err(|e| format!("invalid format - {alias}: {e}"))?;
            seen.push(key_alias.to_string());
            seen.push(alias.to_string());
            continue;
        }
        check(spec, &val).map_err(|e| format!("invalid format - {key}: {e}"))?;
        seen.push(key);
    }
    for (k, spec) in fmt {
        if spec.get("type").is_some() && spec["optional"].as_i64() != Some(1) && !seen.contains(k) {
            return Err(format!("invalid format - property '{k}' is missing"));
        }
    }
    Ok(())
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn named_format(format: &str, v: &str) -> Result<(), String> {
    let ok = match format {
        "dns-name" => v.split('.').all(is_label),
        "pve-node" => is_label(v),
        "pve-configid" => {
            let mut c = v.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic())
                && v.len() >= 2
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }
        "pve-configid-list" => {
            v.split([',', ';', ' ']).filter(|s| !s.is_empty()).all(|s| named_format("pve-configid", s).is_ok())
        }
        "pve-storage-id" => {
            v.len() >= 2
                && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && v.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        }
        // pve-common's PVE_TAG_RE, case-insensitive; the list splits on `;`, `,` and spaces.
        "pve-tag-list" => v.split([';', ',', ' ']).filter(|t| !t.is_empty()).all(|t| {
            let mut b = t.bytes();
            b.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                && b.all(|c| c.is_ascii_alphanumeric() || b"_-+.".contains(&c))
        }),
        "pve-bridge-id" => !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
        "mac-addr" => {
            let parts: Vec<&str> = v.split(':').collect();
            parts.len() == 6
                && parts.iter().all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok())
                && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0)
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("value does not match the regex pattern of format '{format}' - got '{v}'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn clone_parameters() {
        let ep = "POST /nodes/{node}/qemu/{vmid}/clone";
        assert!(validate(
            ep,
            &p(&[("node", "pve1"), ("vmid", "9000"), ("newid", "101"), ("name", "i-2-9-VM"), ("full", "1")])
        )
        .is_ok());
        let e = validate(ep, &p(&[("node", "pve1"), ("vmid", "9000")])).unwrap_err();
        assert!(e.contains_key("newid"));
        let e = validate(ep, &p(&[("node", "pve1"), ("vmid", "9000"), ("newid", "99"), ("bogus", "1")])).unwrap_err();
        assert!(e["newid"].contains("minimum") && e.contains_key("bogus"), "{e:?}");
        let e =
            validate(ep, &p(&[("node", "pve1"), ("vmid", "9000"), ("newid", "101"), ("name", "-bad-")])).unwrap_err();
        assert!(e.contains_key("name"));
    }

    #[test]
    fn property_strings() {
        let ep = "POST /nodes/{node}/qemu/{vmid}/config";
        let base = [("node", "pve1"), ("vmid", "101")];
        let ok = |kv: &[(&str, &str)]| validate(ep, &p(&[&base[..], kv].concat()));
        assert!(ok(&[("net0", "virtio=02:01:00:cc:00:01,bridge=vmbr0,tag=1577,firewall=0")]).is_ok());
        assert!(ok(&[("net1", "virtio=02:01:00:cc:00:02,bridge=vmbr0")]).is_ok());
        assert!(ok(&[("net0", "virtio=02:01:00:cc:00:01,bridge=vmbr0,tag=untagged")]).is_err());
        assert!(ok(&[("net0", "virtio=03:01:00:cc:00:01,bridge=vmbr0")]).is_err(), "multicast MAC");
        assert!(ok(&[("net0", "virtio,bridge=vmbr0,colour=red")]).is_err());
        assert!(ok(&[("memory", "2048"), ("cores", "2")]).is_ok());
        assert!(ok(&[("cores", "0")]).is_err());
        assert!(ok(&[("delete", "net2,net3")]).is_ok());
    }
}
