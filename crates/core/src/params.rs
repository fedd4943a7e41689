//! Custom action declarations and their typed parameters.

use crate::error::{Error, Result};
use crate::loose::parse_bool;
use std::collections::BTreeMap;

/// A parameter type, as CloudStack's `addCustomAction` knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    String,
    Boolean,
    Number,
}

impl ParamType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamType::String => "STRING",
            ParamType::Boolean => "BOOLEAN",
            ParamType::Number => "NUMBER",
        }
    }
}

/// One declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ParamType,
    pub required: bool,
    pub description: &'static str,
}

/// One declared custom action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomActionSpec {
    /// The name operators register (matched case-insensitively).
    pub name: &'static str,
    pub description: &'static str,
    pub params: Vec<ParamSpec>,
}

impl CustomActionSpec {
    pub fn new(name: &'static str, description: &'static str) -> Self {
        CustomActionSpec { name, description, params: Vec::new() }
    }
    pub fn param(mut self, name: &'static str, kind: ParamType, required: bool, description: &'static str) -> Self {
        self.params.push(ParamSpec { name, kind, required, description });
        self
    }

    /// True when `action` (argv[1]) names this action. Case, spaces, `_` and
    /// `-` are ignored, so `List Snapshots`, `list_snapshots` and `LISTSNAPSHOTS`
    /// all name `ListSnapshots` (CloudStack allows all of them as names).
    pub fn matches(&self, action: &str) -> bool {
        fn key(s: &str) -> impl Iterator<Item = char> + '_ {
            s.chars().filter(|c| !matches!(c, ' ' | '_' | '-')).map(|c| c.to_ascii_lowercase())
        }
        key(self.name).eq(key(action))
    }

    /// Validates and types the payload's `parameters` against this declaration.
    /// Undeclared parameters are kept as given (CloudStack passes them as strings).
    pub fn parse_params(&self, raw: Option<&serde_json::Map<String, serde_json::Value>>) -> Result<Params> {
        let mut out = BTreeMap::new();
        let empty = serde_json::Map::new();
        let raw = raw.unwrap_or(&empty);
        for spec in &self.params {
            let found = raw
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(spec.name))
                .map(|(_, v)| v)
                .filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()));
            match found {
                None if spec.required => {
                    return Err(Error::bad_input(format!(
                        "custom action `{}` needs parameter `{}` ({})",
                        self.name,
                        spec.name,
                        spec.kind.as_str()
                    )))
                }
                None => {}
                Some(v) => {
                    out.insert(spec.name.to_string(), coerce(self.name, spec, v)?);
                }
            }
        }
        for (k, v) in raw {
            if !self.params.iter().any(|s| s.name.eq_ignore_ascii_case(k)) && !v.is_null() {
                let value = match v {
                    serde_json::Value::String(s) => ParamValue::Str(s.clone()),
                    serde_json::Value::Bool(b) => ParamValue::Bool(*b),
                    serde_json::Value::Number(n) => ParamValue::Num(n.as_f64().unwrap_or_default()),
                    other => ParamValue::Str(other.to_string()),
                };
                out.insert(k.clone(), value);
            }
        }
        Ok(Params(out))
    }
}

/// An adapter's custom actions as one enum: declared once (each variant's [`spec`]), listed
/// by `--help`, dispatched by `Backend::custom` on the parsed variant (a misspelt action is a
/// compile error, not a fall-through), and run by the conformance suite.
///
/// [`spec`]: CustomAction::spec
///
/// Every variant, in the order `--help` lists them, comes from `#[derive(strum::VariantArray)]`.
pub trait CustomAction: Copy + Sized + 'static + strum::VariantArray {
    /// The declaration: name as operators register it, description, parameters.
    fn spec(self) -> CustomActionSpec;

    /// The declarations of every variant.
    fn specs() -> Vec<CustomActionSpec> {
        Self::VARIANTS.iter().map(|a| a.spec()).collect()
    }

    /// The variant a declared (canonical) name stands for; an `unsupported` error otherwise.
    fn parse(name: &str) -> Result<Self> {
        Self::VARIANTS
            .iter()
            .copied()
            .find(|a| a.spec().name == name)
            .ok_or_else(|| Error::unsupported(format!("custom action `{name}` is not implemented")))
    }
}

fn coerce(action: &str, spec: &ParamSpec, v: &serde_json::Value) -> Result<ParamValue> {
    let wrong = || {
        Error::bad_input(format!(
            "custom action `{action}` parameter `{}` must be {}, found {v}",
            spec.name,
            spec.kind.as_str()
        ))
    };
    Ok(match (spec.kind, v) {
        (ParamType::String, serde_json::Value::String(s)) => ParamValue::Str(s.clone()),
        (ParamType::String, serde_json::Value::Number(n)) => ParamValue::Str(n.to_string()),
        (ParamType::String, serde_json::Value::Bool(b)) => ParamValue::Str(b.to_string()),
        (ParamType::Boolean, serde_json::Value::Bool(b)) => ParamValue::Bool(*b),
        (ParamType::Boolean, serde_json::Value::String(s)) => ParamValue::Bool(parse_bool(s).ok_or_else(wrong)?),
        (ParamType::Number, serde_json::Value::Number(n)) => ParamValue::Num(n.as_f64().ok_or_else(wrong)?),
        (ParamType::Number, serde_json::Value::String(s)) => {
            ParamValue::Num(s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(wrong)?)
        }
        _ => return Err(wrong()),
    })
}

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Str(String),
    Bool(bool),
    Num(f64),
}

/// Typed parameters of one custom action invocation, keyed by declared name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(pub BTreeMap<String, ParamValue>);

impl Params {
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(ParamValue::Str(s)) => Some(s.as_str()),
            _ => None,
        }
    }
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.0.get(name) {
            Some(ParamValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }
    pub fn num(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(ParamValue::Num(n)) => Some(*n),
            _ => None,
        }
    }
    /// A required string parameter (already validated by `parse_params` when declared).
    pub fn require_str(&self, name: &str) -> Result<&str> {
        self.str(name).ok_or_else(|| Error::bad_input(format!("parameter `{name}` is required")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> CustomActionSpec {
        CustomActionSpec::new("CreateSnapshot", "d")
            .param("snap_name", ParamType::String, true, "")
            .param("snap_save_memory", ParamType::Boolean, false, "")
            .param("keep", ParamType::Number, false, "")
    }

    #[test]
    fn matches_case_insensitively() {
        assert!(spec().matches("createsnapshot"));
        assert!(spec().matches(" CREATESNAPSHOT "));
        assert!(spec().matches("Create Snapshot"));
        assert!(spec().matches("create_snapshot"));
        assert!(!spec().matches("CreateSnapshots"));
        assert!(!spec().matches(""));
    }

    #[test]
    fn types_and_requires() {
        let raw = json!({"SNAP_NAME": "a", "snap_save_memory": "true", "keep": "3", "extra": 1});
        let p = spec().parse_params(raw.as_object()).unwrap();
        assert_eq!(p.str("snap_name"), Some("a"));
        assert_eq!(p.bool("snap_save_memory"), Some(true));
        assert_eq!(p.num("keep"), Some(3.0));
        assert_eq!(p.num("extra"), Some(1.0));
        let e = spec().parse_params(None).unwrap_err();
        assert!(e.message().contains("snap_name"));
        let e = spec().parse_params(json!({"snap_name":"a","snap_save_memory":"maybe"}).as_object()).unwrap_err();
        assert!(e.message().contains("BOOLEAN"), "{}", e.message());
        assert!(spec().parse_params(json!({"snap_name":{"x":1}}).as_object()).is_err());
        assert!(spec().parse_params(json!({"snap_name":"  "}).as_object()).is_err());
    }
}
