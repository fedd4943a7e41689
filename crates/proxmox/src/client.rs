//! A thin client for the Proxmox VE API: auth, deadlines, bounded retries,
//! lenient parsing, Proxmox's error texts, and task (UPID) waiting. Its errors are
//! typed ([`ApiError`]): the adapter decides on the status, not on wording, and
//! converts them to `csx_core::Error` once.

use crate::config::{Auth, Connection};
use csx_tls::{client_config, Trust};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Everything but letters, digits, `-`, `_` and `~` is encoded; `.` too, so that `..`
/// can never climb the API path.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// Percent-encodes one path segment or form value (names and UPIDs come from payloads and Proxmox).
pub fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn form_encode(params: &[(&str, String)]) -> String {
    params.iter().map(|(k, v)| format!("{}={}", seg(k), seg(v))).collect::<Vec<_>>().join("&")
}

/// What went wrong talking to Proxmox, as the client knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request failed on the way: `sent` says whether it may have reached Proxmox.
    Transport {
        host: String,
        detail: String,
        sent: bool,
    },
    /// The node's certificate is not trusted, or (`mismatch`) not the pinned one.
    Certificate {
        host: String,
        detail: String,
        mismatch: bool,
    },
    /// Proxmox answered with an error status.
    Status {
        method: String,
        path: String,
        code: u16,
        message: String,
    },
    /// Proxmox refused the credentials (401); `hint` says what to check.
    Unauthorized {
        host: String,
        hint: String,
    },
    /// The action's deadline passed while waiting for an answer.
    Deadline {
        host: String,
        detail: String,
    },
    /// A task ended with an error.
    TaskFailed {
        kind: String,
        exit: String,
    },
    /// A task was still running at the deadline.
    TaskRunning {
        upid: String,
    },
    /// An answer csx cannot use.
    Malformed(String),
    /// The TLS configuration is wrong, or the HTTP client could not be set up.
    Tls(csx_tls::TlsError),
    Setup(String),
}

impl ApiError {
    /// The HTTP status Proxmox answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { code, .. } => Some(*code),
            ApiError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }
}

impl From<ApiError> for csx_core::Error {
    fn from(e: ApiError) -> Self {
        use csx_core::Error;
        match e {
            ApiError::Transport { host, detail, sent } => {
                let e = Error::remote(format!("cannot reach Proxmox at {host}: {detail}"));
                if sent {
                    e.transient()
                } else {
                    e
                }
            }
            ApiError::Certificate { host, detail, mismatch: true } => Error::remote(format!(
                "cannot reach Proxmox at {host}: {detail} (if the node's certificate was renewed, set `tls_fingerprint` to the new one after checking it on the node)"
            )),
            ApiError::Certificate { host, detail, mismatch: false } => Error::remote(format!(
                "cannot reach Proxmox at {host}: {detail} (the node's certificate is not trusted: set `tls_ca_file` \
                 to the cluster CA, e.g. a copy of /etc/pve/pve-root-ca.pem, or `tls_fingerprint` to the certificate's \
                 SHA-256 fingerprint shown in the Proxmox UI, or, last resort, `verify_tls_certificate=false`)"
            )),
            ApiError::Status { method, path, code: 403, message } => Error::auth(format!(
                "Proxmox denied {method} {path}: {message} (grant the token the privileges listed in the README)"
            )),
            ApiError::Status { method, path, code, message } => {
                Error::remote(format!("Proxmox {method} {path} failed (HTTP {code}): {message}"))
            }
            ApiError::Unauthorized { host, hint } => {
                Error::auth(format!("Proxmox at {host} rejected the credentials (HTTP 401): {hint}"))
            }
            ApiError::Deadline { host, detail } => {
                Error::timeout(format!("Proxmox at {host} did not answer in time: {detail}"))
            }
            ApiError::TaskFailed { kind, exit } => Error::remote(format!("Proxmox task {kind} failed: {exit}")),
            ApiError::TaskRunning { upid } => {
                Error::timeout(format!("Proxmox task {upid} is still running at the deadline"))
            }
            ApiError::Malformed(m) => Error::remote(m),
            ApiError::Tls(csx_tls::TlsError::Config(m)) => {
                Error::bad_input(format!("TLS settings (`tls_fingerprint`, `tls_ca_file`): {m}"))
            }
            ApiError::Tls(csx_tls::TlsError::Setup(m)) | ApiError::Setup(m) => Error::internal(m),
        }
    }
}

/// The client's results.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// How many times a request that is safe to repeat is tried.
const ATTEMPTS: u32 = 3;
/// Per-request cap, so one hung request cannot eat the whole budget of a long action.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One API session (one invocation), bound to a deadline. [`Client::until`] gives a
/// client for the same session with an earlier deadline (work that may have to be undone).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api: String,
    auth: Auth,
    /// `(cookie, csrf)` after a ticket login, shared by the clients of one session.
    session: Arc<Mutex<Option<(String, String)>>>,
    deadline: Instant,
}

impl Client {
    pub fn new(conn: &Connection, deadline: Instant) -> ApiResult<Client> {
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("csx-proxmox/", env!("CARGO_PKG_VERSION")))
            .no_proxy();
        if conn.api.starts_with("https://") {
            builder = builder.use_preconfigured_tls(client_config(&conn.trust).map_err(ApiError::Tls)?);
        } else if conn.trust == Trust::System {
            tracing::warn!("talking to Proxmox over plain HTTP: {}", conn.api);
        }
        let http = builder.build().map_err(|e| ApiError::Setup(format!("HTTP client setup: {e}")))?;
        let (Auth::Token { secret, .. } | Auth::Password { password: secret, .. }) = &conn.auth;
        csx_core::redact::register(secret);
        Ok(Client {
            http,
            api: conn.api.clone(),
            auth: conn.auth.clone(),
            session: Arc::new(Mutex::new(None)),
            deadline,
        })
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The same session with an earlier deadline (see `Request::work_deadline`).
    pub fn until(&self, deadline: Instant) -> Client {
        Client { deadline: deadline.min(self.deadline), ..self.clone() }
    }

    fn host(&self) -> String {
        self.api.trim_end_matches("/api2/json").to_string()
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> ApiResult<Value> {
        self.call(Method::GET, path, query).await
    }
    pub async fn post(&self, path: &str, form: &[(&str, String)]) -> ApiResult<Value> {
        self.call(Method::POST, path, form).await
    }
    pub async fn put(&self, path: &str, form: &[(&str, String)]) -> ApiResult<Value> {
        self.call(Method::PUT, path, form).await
    }
    pub async fn delete(&self, path: &str, query: &[(&str, String)]) -> ApiResult<Value> {
        self.call(Method::DELETE, path, query).await
    }

    /// One API call: `data` of the answer (which may be `null`). Decided on the error's
    /// type: a request that never left is repeated, a read also when the connection broke
    /// or a proxy failed (502-504, 595-599); a certificate problem or a deadline never is.
    pub async fn call(&self, method: Method, path: &str, params: &[(&str, String)]) -> ApiResult<Value> {
        let idempotent = method == Method::GET;
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let err = match self.once(&method, path, params).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let retry = match &err {
                ApiError::Transport { sent, .. } => !sent || idempotent,
                ApiError::Status { code, .. } => idempotent && matches!(code, 502..=504 | 595..=599),
                _ => false,
            };
            if !retry || attempt >= ATTEMPTS || Instant::now() + backoff >= self.deadline {
                return Err(err);
            }
            tracing::debug!("{method} {path}: attempt {attempt} failed ({err:?}), retrying");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }

    async fn headers(&self, method: &Method) -> ApiResult<Vec<(&'static str, String)>> {
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
                        return Err(ApiError::Unauthorized {
                            host: self.host(),
                            hint: "no ticket in the login answer".into(),
                        });
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

    async fn once(&self, method: &Method, path: &str, params: &[(&str, String)]) -> ApiResult<Value> {
        let headers = self.headers(method).await?;
        self.send(method, path, params, &headers).await
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        params: &[(&str, String)],
        headers: &[(&str, String)],
    ) -> ApiResult<Value> {
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
        let deadline = self.deadline;
        let limit = (Instant::now() + REQUEST_TIMEOUT).min(deadline);
        let host = self.host();
        let transport = |e: reqwest::Error, sent: bool| match csx_tls::certificate_failure(&e) {
            Some(csx_tls::CertificateFailure::Untrusted(detail)) => ApiError::Certificate {
                host: host.clone(),
                detail: format!("invalid peer certificate: {detail}"),
                mismatch: false,
            },
            // A pinned fingerprint that does not match: said as it is, and never repeated.
            Some(mismatch) => {
                ApiError::Certificate { host: host.clone(), detail: mismatch.to_string(), mismatch: true }
            }
            None => ApiError::Transport { host: host.clone(), detail: describe(&e), sent },
        };
        let exchange = async {
            let resp = req.send().await.map_err(|e| {
                let sent = !e.is_connect();
                transport(e, sent)
            })?;
            let status = resp.status().as_u16();
            let reason = resp.status().canonical_reason().unwrap_or("").to_string();
            let body = resp.bytes().await.map_err(|e| transport(e, true))?;
            Ok::<_, ApiError>((status, reason, body))
        };
        let (status, reason, body) = match tokio::time::timeout_at(limit, exchange).await {
            Ok(r) => r?,
            Err(_) if limit >= deadline => {
                return Err(ApiError::Deadline {
                    host: self.host(),
                    detail: format!("no answer to {method} {path} before the action's deadline"),
                })
            }
            Err(_) => {
                return Err(ApiError::Transport {
                    host: self.host(),
                    detail: format!("no answer to {method} {path} within {REQUEST_TIMEOUT:?}"),
                    sent: true,
                })
            }
        };
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let status_error = |message: String| ApiError::Status {
            method: method.to_string(),
            path: path.to_string(),
            code: status,
            message,
        };
        if (200..300).contains(&status) {
            return match parsed {
                Some(v) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
                None => Err(status_error(format!("answer is not JSON: {}", snippet(&body)))),
            };
        }
        if status == 401 {
            let hint = match &self.auth {
                Auth::Token { id, .. } => {
                    format!("check that API token `{id}` exists, is not expired, and that `secret` is its secret")
                }
                Auth::Password { user, .. } => format!("check the password of `{user}`"),
            };
            return Err(ApiError::Unauthorized { host: self.host(), hint });
        }
        Err(status_error(error_text(parsed.as_ref(), &body, &reason)))
    }

    /// Waits for a task to finish on `csx_core::poll`'s schedule (a short task's end is seen
    /// within 50 ms, a long one is asked about once a second). `OK` and `WARNINGS: N` are
    /// success; anything else is the task's error text.
    pub async fn wait_task(&self, upid: &str) -> ApiResult<()> {
        let node = upid
            .split(':')
            .nth(1)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::Malformed(format!("Proxmox returned an invalid task id {upid:?}")))?;
        let path = format!("/nodes/{}/tasks/{}/status", seg(node), seg(upid));
        let exit = csx_core::poll::until(
            self.deadline,
            || async {
                let st = self.get(&path, &[]).await?;
                Ok((st["status"].as_str() == Some("stopped"))
                    .then(|| st["exitstatus"].as_str().unwrap_or("").to_string()))
            },
            || ApiError::TaskRunning { upid: upid.to_string() },
        )
        .await?;
        if exit == "OK" || exit.starts_with("WARNINGS") {
            return Ok(());
        }
        Err(ApiError::TaskFailed {
            kind: upid.split(':').nth(5).unwrap_or("task").to_string(),
            exit: if exit.is_empty() { "unknown error".into() } else { exit },
        })
    }

    /// Runs a call that returns a UPID and waits for the task.
    pub async fn run_task(&self, method: Method, path: &str, params: &[(&str, String)]) -> ApiResult<()> {
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
