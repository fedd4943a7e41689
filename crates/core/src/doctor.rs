//! `doctor`: the checks an operator runs by hand on a management server
//! (`<binary> doctor <payload.json> [--json]`) to find which setting is wrong, in order:
//! the install, the configuration, the connection, the authorization, the objects the
//! configuration names. Each check passes, fails (saying what to change) or is skipped.

use crate::Payload;
use serde_json::{json, Value};

/// A configuration key as the doctor shows it: its value (`set` for a secret) and where it
/// came from; `None` when the payload does not carry it.
pub fn configured(p: &Payload, key: &crate::Key) -> Option<String> {
    p.detail_source(key).map(|(v, from)| {
        let v = if key.is_secret() { "set".to_string() } else { format!("{v:?}") };
        format!("{v} (from {})", from.as_str())
    })
}

/// What a group of checks is about, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    Install,
    Configuration,
    Connection,
    Authorization,
    Objects,
}

impl Area {
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Install => "install",
            Area::Configuration => "configuration",
            Area::Connection => "connection",
            Area::Authorization => "authorization",
            Area::Objects => "objects",
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not run: it does not apply here, or an earlier failure makes it meaningless.
    Skip,
    /// Works, but weaker than it should be (TLS checks turned off): said, not failed.
    Warn,
}

/// One check: what was checked, what was found, and on failure what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub area: Area,
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(area: Area, name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check { area, name: name.into(), verdict: Verdict::Pass, detail: detail.into(), fix: None }
    }
    pub fn fail(area: Area, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { area, name: name.into(), verdict: Verdict::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn warn(area: Area, name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check { area, name: name.into(), verdict: Verdict::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn skip(area: Area, name: impl Into<String>, why: impl Into<String>) -> Check {
        Check { area, name: name.into(), verdict: Verdict::Skip, detail: why.into(), fix: None }
    }
}

/// Every check of one `doctor` run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report(pub Vec<Check>);

impl Report {
    /// True when every check that ran passed.
    pub fn ok(&self) -> bool {
        self.0.iter().all(|c| c.verdict != Verdict::Fail)
    }

    /// The readable checklist.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut area = None;
        for c in &self.0 {
            if area != Some(c.area) {
                area = Some(c.area);
                out.push_str(&format!("\n{}\n", c.area.as_str()));
            }
            let mark = match c.verdict {
                Verdict::Pass => "  ok  ",
                Verdict::Fail => "  FAIL",
                Verdict::Skip => "  skip",
                Verdict::Warn => "  WARN",
            };
            out.push_str(&format!("{mark}  {}: {}\n", c.name, c.detail));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("        -> {fix}\n"));
            }
        }
        let failed = self.0.iter().filter(|c| c.verdict == Verdict::Fail).count();
        let passed = self.0.iter().filter(|c| c.verdict == Verdict::Pass).count();
        let warned = self.0.iter().filter(|c| c.verdict == Verdict::Warn).count();
        let skipped = self.0.len() - failed - passed - warned;
        out.push_str(&format!("\n{passed} checks passed, {warned} warnings, {failed} failed, {skipped} skipped\n"));
        out
    }

    /// The same as one JSON document.
    pub fn json(&self) -> Value {
        let checks: Vec<Value> = self
            .0
            .iter()
            .map(|c| {
                let mut v = json!({"area": c.area.as_str(), "check": c.name, "result": match c.verdict {
                    Verdict::Pass => "pass", Verdict::Fail => "fail", Verdict::Skip => "skip", Verdict::Warn => "warn" }, "detail": c.detail});
                if let Some(f) = &c.fix {
                    v["fix"] = json!(f);
                }
                v
            })
            .collect();
        json!({"status": if self.ok() { "success" } else { "error" }, "checks": checks})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_shapes() {
        let r = Report(vec![
            Check::pass(Area::Install, "mode", "0755"),
            Check::fail(Area::Connection, "TLS", "untrusted", "set `tls_fingerprint`"),
            Check::skip(Area::Objects, "node", "no connection"),
        ]);
        assert!(!r.ok());
        let t = r.text();
        assert!(t.contains("  FAIL  TLS: untrusted\n        -> set `tls_fingerprint`"), "{t}");
        assert!(t.ends_with("1 checks passed, 0 warnings, 1 failed, 1 skipped\n"), "{t}");
        assert_eq!(r.json()["checks"][1]["fix"], "set `tls_fingerprint`");
        assert_eq!(r.json()["status"], "error");
        assert!(Report(vec![Check::skip(Area::Install, "x", "y")]).ok());
        let w = Report(vec![Check::warn(Area::Connection, "TLS trust", "no checks at all", "pin it")]);
        assert!(w.ok(), "a warning is not a failure");
        assert!(w.text().contains("  WARN  TLS trust: no checks at all\n        -> pin it"), "{}", w.text());
        assert_eq!(w.json()["checks"][0]["result"], "warn");
    }
}
