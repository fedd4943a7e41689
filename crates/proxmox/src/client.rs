//! A thin client for the Proxmox VE API: auth, deadlines, bounded retries,
//! lenient parsing, Proxmox's error texts, and task (UPID) waiting.

use crate::config::{Auth, Connection};
use csx_core::{Error, Result};
use csx_tls::{client_config, Trust};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Percent-encodes one path segment (names and UPIDs come from payloads and Proxmox).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        // `.` is encoded too, so that `..` can never climb the API path.
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn form_encode(params: &[(&str, String)]) -> String {
    params.iter().map(|(k, v)| format!("{}={}", seg(k), seg(v))).collect::<Vec<_>>().join("&")
}

/// How many times a request that is safe to repeat is tried.
const ATTEMPTS: u32 = 3;
/// Per-request cap, so one hung request cannot eat the whole budget of a long action.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One API session (one invocation).
pub struct Client {
    http: reqwest::Client,
    api: String,
    auth: Auth,
    /// `(cookie, csrf)` after a ticket login.
    session: Mutex<Option<(String, String)>>,
    /// Shared with in-flight calls; lowered for work that may have to be undone.
    deadline: std::sync::Mutex<Instant>,
}

/// A failed exchange, before it becomes an [`Error`].
enum Failure {
    /// Not sent, or the connection broke: retry when safe.
    Transport(String, bool),
    /// Proxmox answered with an error status.
    Status(u16, String),
    /// The action's deadline passed while waiting for an answer.
    Deadline(String),
}

impl Client {
    pub fn new(conn: &Connection, deadline: Instant) -> Result<Client> {
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("csx-proxmox/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        if conn.api.starts_with("https://") {
            builder = builder.use_preconfigured_tls(client_config(&conn.trust)?);
        } else if conn.trust == Trust::System {
            tracing::warn!("talking to Proxmox over plain HTTP: {}", conn.api);
        }
        let http = builder.build().map_err(|e| Error::internal(format!("HTTP client setup: {e}")))?;
        let (Auth::Token { secret, .. } | Auth::Password { password: secret, .. }) = &conn.auth;
        csx_core::redact::register(secret);
        Ok(Client {
            http,
            api: conn.api.clone(),
            auth: conn.auth.clone(),
            session: Mutex::new(None),
            deadline: deadline.into(),
        })
    }

    pub fn deadline(&self) -> Instant {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the deadline for the calls that follow (see `Request::work_deadline`).
    pub fn set_deadline(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.call(Method::GET, path, query).await
    }
    pub async fn post(&self, path: &str, form: &[(&str, String)]) -> Result<Value> {
        self.call(Method::POST, path, form).await
    }
    pub async fn put(&self, path: &str, form: &[(&str, String)]) -> Result<Value> {
        self.call(Method::PUT, path, form).await
    }
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> Result<Value> {
        self.call(Method::DELETE, path, query).await
    }

    /// One API call: `data` of the answer (which may be `null`).
    pub async fn call(&self, method: Method, path: &str, params: &[(&str, String)]) -> Result<Value> {
        let idempotent = method == Method::GET;
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            match self.once(&method, path, params).await {
                Ok(v) => return Ok(v),
                Err(f) => {
                    let retry = match &f {
                        // A certificate problem does not go away by retrying.
                        Failure::Transport(msg, sent) => (!sent || idempotent) && !msg.contains("certificate"),
                        Failure::Status(code, _) => idempotent && matches!(code, 502..=504 | 595..=599),
                        Failure::Deadline(_) => false,
                    };
                    let err = self.to_error(&method, path, f);
                    if !retry || attempt >= ATTEMPTS || Instant::now() + backoff >= self.deadline() {
                        return Err(err);
                    }
                    tracing::debug!("{method} {path}: attempt {attempt} failed ({}), retrying", err.message());
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    fn to_error(&self, method: &Method, path: &str, f: Failure) -> Error {
        let host = self.api.trim_end_matches("/api2/json");
        match f {
            Failure::Transport(msg, _) if msg.contains("certificate") && !msg.contains("fingerprint mismatch") => {
                Error::remote(format!(
                    "cannot reach Proxmox at {host}: {msg} (the node's certificate is not trusted: set `tls_ca_file` \
                     to the cluster CA, e.g. a copy of /etc/pve/pve-root-ca.pem, or `tls_fingerprint` to the certificate's \
                     SHA-256 fingerprint shown in the Proxmox UI, or, last resort, `verify_tls_certificate=false`)"
                ))
            }
            Failure::Transport(msg, _) => Error::remote(format!("cannot reach Proxmox at {host}: {msg}")),
            Failure::Deadline(msg) => Error::timeout(format!("Proxmox at {host} did not answer in time: {msg}")),
            Failure::Status(401, _) => Error::auth(format!(
                "Proxmox at {host} rejected the credentials (HTTP 401): {}",
                match &self.auth {
                    Auth::Token { id, .. } =>
                        format!("check that API token `{id}` exists, is not expired, and that `secret` is its secret"),
                    Auth::Password { user, .. } => format!("check the password of `{user}`"),
                }
            )),
            Failure::Status(403, msg) => Error::auth(format!(
                "Proxmox denied {method} {path}: {msg} (grant the token PVEAdmin on /vms, /storage and /sdn)"
            )),
            Failure::Status(code, msg) => Error::remote(format!("Proxmox {method} {path} failed (HTTP {code}): {msg}")),
        }
    }

    async fn headers(&self, method: &Method) -> Result<Vec<(&'static str, String)>, Failure> {
        match &self.auth {
            Auth::Token { id, secret } => Ok(vec![("Authorization", format!("PVEAPIToken={id}={secret}"))]),
            Auth::Password { user, password } => {
                let mut session = self.session.lock().await;
                if session.is_none() {
                    let form = [("username", user.clone()), ("password", password.clone())];
                    let data = self.send(&Method::POST, "/access/ticket", &form, &[]).await?;
                    let ticket = data["ticket"].as_str().unwrap_or_default().to_string();
                    let csrf = data["CSRFPreventionToken"].as_str().unwrap_or_default().to_string();
                    if ticket.is_empty() {
                        return Err(Failure::Status(401, "no ticket in the login answer".into()));
                    }
                    csx_core::redact::register(&ticket);
                    csx_core::redact::register(&csrf);
                    *session = Some((format!("PVEAuthCookie={}", seg(&ticket)), csrf));
                }
                let (cookie, csrf) = session.clone().unwrap_or_default();
                let mut h = vec![("Cookie", cookie)];
                if method != Method::GET {
                    h.push(("CSRFPreventionToken", csrf));
                }
                Ok(h)
            }
        }
    }

    async fn once(&self, method: &Method, path: &str, params: &[(&str, String)]) -> Result<Value, Failure> {
        let headers = self.headers(method).await?;
        self.send(method, path, params, &headers).await
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        params: &[(&str, String)],
        headers: &[(&str, String)],
    ) -> Result<Value, Failure> {
        let mut url = format!("{}{path}", self.api);
        let mut req = if *method == Method::GET || *method == Method::DELETE {
            if !params.is_empty() {
                url.push('?');
                url.push_str(&form_encode(params));
            }
            self.http.request(method.clone(), &url)
        } else {
            self.http
                .request(method.clone(), &url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_encode(params))
        };
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let deadline = self.deadline();
        let limit = (Instant::now() + REQUEST_TIMEOUT).min(deadline);
        let exchange = async {
            let resp = req.send().await.map_err(|e| Failure::Transport(describe(&e), !e.is_connect()))?;
            let status = resp.status().as_u16();
            let reason = resp.status().canonical_reason().unwrap_or("").to_string();
            let body = resp.bytes().await.map_err(|e| Failure::Transport(describe(&e), true))?;
            Ok::<_, Failure>((status, reason, body))
        };
        let (status, reason, body) = match tokio::time::timeout_at(limit, exchange).await {
            Ok(r) => r?,
            Err(_) if limit >= deadline => {
                return Err(Failure::Deadline(format!("no answer to {method} {path} before the action's deadline")))
            }
            Err(_) => {
                return Err(Failure::Transport(
                    format!("no answer to {method} {path} within {REQUEST_TIMEOUT:?}"),
                    true,
                ))
            }
        };
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        if (200..300).contains(&status) {
            return match parsed {
                Some(v) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
                None => Err(Failure::Status(status, format!("answer is not JSON: {}", snippet(&body)))),
            };
        }
        Err(Failure::Status(status, error_text(parsed.as_ref(), &body, &reason)))
    }

    /// Waits for a task to finish: polls soon, then backs off (20 ms × 1.5, up to 1 s).
    /// `OK` and `WARNINGS: N` are success; anything else is the task's error text.
    pub async fn wait_task(&self, upid: &str) -> Result<()> {
        let node = upid
            .split(':')
            .nth(1)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::remote(format!("Proxmox returned an invalid task id {upid:?}")))?;
        let path = format!("/nodes/{}/tasks/{}/status", seg(node), seg(upid));
        let mut pause = Duration::from_millis(20);
        loop {
            let st = self.get(&path, &[]).await?;
            if st["status"].as_str() == Some("stopped") {
                let exit = st["exitstatus"].as_str().unwrap_or("");
                if exit == "OK" || exit.starts_with("WARNINGS") {
                    return Ok(());
                }
                let kind = upid.split(':').nth(5).unwrap_or("task");
                return Err(Error::remote(format!(
                    "Proxmox task {kind} failed: {}",
                    if exit.is_empty() { "unknown error" } else { exit }
                )));
            }
            if Instant::now() + pause >= self.deadline() {
                return Err(Error::timeout(format!("Proxmox task {upid} is still running at the deadline")));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(1));
        }
    }

    /// Runs a call that returns a UPID and waits for the task.
    pub async fn run_task(&self, method: Method, path: &str, params: &[(&str, String)]) -> Result<()> {
        let v = self.call(method, path, params).await?;
        match v.as_str() {
            Some(upid) if upid.starts_with("UPID:") => self.wait_task(upid).await,
            _ => Ok(()),
        }
    }
}

/// The most useful error text in a Proxmox answer: `message`, then `errors`, then the body, then the reason.
pub fn error_text(parsed: Option<&Value>, body: &[u8], reason: &str) -> String {
    if let Some(v) = parsed {
        let mut parts = Vec::new();
        if let Some(m) = v["message"].as_str().map(str::trim).filter(|m| !m.is_empty()) {
            parts.push(m.to_string());
        }
        if let Some(errs) = v["errors"].as_object() {
            parts.extend(
                errs.iter().map(|(k, e)| format!("{k}: {}", e.as_str().map(str::trim).unwrap_or(&e.to_string()))),
            );
        }
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = snippet(body);
    if !text.is_empty() && parsed.is_none() {
        return text;
    }
    if reason.is_empty() {
        "no error text in the answer".into()
    } else {
        reason.to_string()
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let s = s.trim();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

/// A transport error with its causes (`connection refused`, `certificate fingerprint mismatch`...).
fn describe(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut last = String::new();
    while let Some(s) = source {
        let text = s.to_string();
        if !text.is_empty() && !last.contains(&text) && !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
            last = text;
        }
        source = s.source();
    }
    msg
}

/// Reads an integer Proxmox may send as a number or a string.
pub fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Reads a boolean Proxmox may send as 0/1, "0"/"1" or true/false.
pub fn as_bool(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_u64().unwrap_or(0) != 0,
        Value::String(s) => matches!(s.as_str(), "1" | "true"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encoding() {
        assert_eq!(seg("UPID:pve1:00A:root@pam!cs:"), "UPID%3Apve1%3A00A%3Aroot%40pam%21cs%3A");
        assert_eq!(seg("../etc?x#y%2F"), "%2E%2E%2Fetc%3Fx%23y%252F");
        assert_eq!(
            form_encode(&[("net0", "virtio=AA:BB,bridge=vmbr0".into())]),
            "net0=virtio%3DAA%3ABB%2Cbridge%3Dvmbr0"
        );
    }

    #[test]
    fn error_texts() {
        let v = json!({"data": null, "message": "Parameter verification failed.\n", "errors": {"vmid": "VM 123 already exists"}});
        assert_eq!(
            error_text(Some(&v), b"", "Bad Request"),
            "Parameter verification failed.; vmid: VM 123 already exists"
        );
        assert_eq!(
            error_text(Some(&json!({"data": null})), b"{\"data\":null}", "Internal Server Error"),
            "Internal Server Error"
        );
        assert_eq!(error_text(None, b"no such uri", "Not Implemented"), "no such uri");
        assert_eq!(error_text(None, b"", ""), "no error text in the answer");
    }

    #[test]
    fn loose_values() {
        assert_eq!(as_u64(&json!("130")), Some(130));
        assert_eq!(as_u64(&json!(130)), Some(130));
        assert!(as_bool(&json!("1")) && as_bool(&json!(1)) && as_bool(&json!(true)) && !as_bool(&json!(0)));
    }
}
