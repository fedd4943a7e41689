//! The one JSON document an invocation prints, and its exit code.
//!
//! Output is ASCII-escaped (CloudStack reads it with the platform charset) and
//! capped at [`MAX_OUTPUT`] bytes: CloudStack reads stdout only after the process
//! exits, so a document larger than the pipe buffer (64 KiB) would block us
//! until the SIGKILL.

use crate::backend::{Console, CustomResult, Outcome, PowerState, Prepared};
use crate::error::Error;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Largest document we print, well below the 64 KiB pipe buffer.
pub const MAX_OUTPUT: usize = 48 * 1024;
/// Longest single message (remote error bodies can be large).
const MAX_MESSAGE: usize = 4 * 1024;

/// Everything an invocation can answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Done(Outcome),
    Prepared(Prepared),
    Status(PowerState),
    Statuses(BTreeMap<String, PowerState>),
    Console(Console),
    Custom(CustomResult),
    Failed(Error),
}

impl Reply {
    /// 0 for success, the error kind's code otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Reply::Failed(e) => e.kind().exit_code(),
            _ => 0,
        }
    }

    /// The JSON value, before capping.
    pub fn to_value(&self) -> Value {
        match self {
            Reply::Done(o) => {
                let mut m = Map::new();
                m.insert("status".into(), "success".into());
                m.insert("message".into(), clip(&o.message).into());
                for (k, v) in &o.extra {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Value::Object(m)
            }
            Reply::Prepared(p) => prepared_value(p),
            Reply::Status(s) => json!({"status": "success", "power_state": s.as_str()}),
            Reply::Statuses(map) => {
                let states: Map<String, Value> =
                    map.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
                json!({"status": "success", "power_state": states})
            }
            Reply::Console(Console::Vnc { host, port, password, one_time }) => json!({
                "status": "success",
                "console": {"host": host, "port": port.to_string(), "password": password,
                            "passwordonetimeuseonly": one_time, "protocol": "vnc"}
            }),
            Reply::Console(Console::Direct { url }) => {
                json!({"status": "success", "console": {"url": url, "protocol": "direct"}})
            }
            Reply::Custom(CustomResult::Message(m)) => {
                json!({"status": "success", "message": clip(m)})
            }
            Reply::Custom(CustomResult::Table(rows)) => {
                json!({"status": "success", "printmessage": "true", "message": rows})
            }
            Reply::Failed(e) => error_value(e),
        }
    }

    /// The final document (ASCII, at most [`MAX_OUTPUT`] bytes) and exit code.
    pub fn render(&self) -> (String, i32) {
        let text = to_ascii_json(&self.to_value());
        if text.len() <= MAX_OUTPUT {
            return (text, self.exit_code());
        }
        match self {
            Reply::Custom(CustomResult::Table(rows)) => (truncate_table(rows), 0),
            _ => {
                let e = Error::internal(format!(
                    "the result is {} bytes, more than the {} bytes CloudStack can read safely; nothing was printed",
                    text.len(),
                    MAX_OUTPUT
                ));
                (to_ascii_json(&error_value(&e)), e.kind().exit_code())
            }
        }
    }
}

fn prepared_value(p: &Prepared) -> Value {
    // Only what CloudStack merges into the VirtualMachineTO: no envelope keys.
    let mut m = Map::new();
    if !p.details.is_empty() {
        m.insert("details".into(), json!(p.details));
    }
    if !p.nics.is_empty() {
        let nics: Vec<Value> = p
            .nics
            .iter()
            .map(|n| {
                let mut o = Map::new();
                for (k, v) in [("uuid", &n.uuid), ("nicUuid", &n.nic_uuid), ("mac", &n.mac), ("ip", &n.ip)] {
                    if let Some(v) = v {
                        o.insert(k.into(), v.clone().into());
                    }
                }
                Value::Object(o)
            })
            .collect();
        m.insert("nics".into(), nics.into());
    }
    Value::Object(m)
}

fn error_value(e: &Error) -> Value {
    json!({"status": "error", "error": clip(e.message()), "error_kind": e.kind().as_str()})
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_MESSAGE {
        return s.to_string();
    }
    let mut end = MAX_MESSAGE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes cut)", &s[..end], s.len() - end)
}

fn truncate_table(rows: &[Map<String, Value>]) -> String {
    // Binary search the largest prefix of rows that fits with the note.
    let doc = |n: usize| {
        to_ascii_json(&json!({
            "status": "success", "printmessage": "true", "message": &rows[..n],
            "truncated": format!("showing {n} of {} rows; the rest did not fit in CloudStack's output limit", rows.len())
        }))
    };
    let (mut lo, mut hi) = (0, rows.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if doc(mid).len() <= MAX_OUTPUT {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    doc(lo)
}

/// Serializes a value as JSON with every non-ASCII character `\u`-escaped.
pub fn to_ascii_json(v: &Value) -> String {
    let s = v.to_string();
    if s.is_ascii() {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut buf = [0u16; 2];
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::NicPatch;

    #[test]
    fn shapes() {
        assert_eq!(Reply::Status(PowerState::On).render().0, r#"{"status":"success","power_state":"poweron"}"#);
        let (s, code) = Reply::Failed(Error::bad_input("x")).render();
        assert_eq!(code, 2);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["status"], "error");
        assert_eq!(v["error"], "x");
        let c = Reply::Console(Console::Vnc { host: "h".into(), port: 5901, password: "p".into(), one_time: true });
        let v = c.to_value();
        assert_eq!(v["console"]["port"], "5901");
        assert_eq!(v["console"]["protocol"], "vnc");
        assert_eq!(Reply::Prepared(Prepared::default()).render().0, "{}");
        let p = Prepared {
            details: [("proxmox_vmid".to_string(), "103".to_string())].into(),
            nics: vec![NicPatch { uuid: Some("net".into()), nic_uuid: Some("nic".into()), mac: None, ip: None }],
        };
        assert_eq!(
            Reply::Prepared(p).render().0,
            r#"{"details":{"proxmox_vmid":"103"},"nics":[{"uuid":"net","nicUuid":"nic"}]}"#
        );
    }

    #[test]
    fn ascii_escaping_roundtrips() {
        let v = json!({"m": "caf\u{e9} \u{1f600} \"q\""});
        let s = to_ascii_json(&v);
        assert!(s.is_ascii());
        assert!(s.contains("\\ud83d\\ude00"));
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }

    #[test]
    fn large_tables_are_truncated_and_large_maps_refused() {
        let rows: Vec<Map<String, Value>> = (0..5000)
            .map(|i| json!({"name": format!("snap-{i}"), "description": "x".repeat(40)}).as_object().unwrap().clone())
            .collect();
        let (s, code) = Reply::Custom(CustomResult::Table(rows)).render();
        assert_eq!(code, 0);
        assert!(s.len() <= MAX_OUTPUT);
        let v: Value = serde_json::from_str(&s).unwrap();
        let n = v["message"].as_array().unwrap().len();
        assert!(n > 100 && n < 5000, "{n}");
        assert!(v["truncated"].as_str().unwrap().contains("of 5000"));

        let map = (0..10_000).map(|i| (format!("i-2-{i}-VM"), PowerState::On)).collect();
        let (s, code) = Reply::Statuses(map).render();
        assert_ne!(code, 0);
        assert!(s.len() < 1000 && s.contains("more than"));
        let (s, _) = Reply::Failed(Error::remote("y".repeat(100_000))).render();
        assert!(s.len() < 5000);
    }
}
