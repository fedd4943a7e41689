//! One authenticated HTTP/1.1 connection to a WinRM listener.
//!
//! NTLM authenticates the *connection*, so this talks to hyper's connection-level
//! client directly: one TCP (or TLS) connection per invocation, the handshake done
//! once, every later request on the same socket. On plain HTTP every message is
//! sealed in the `multipart/encrypted` framing Windows requires.

use crate::error::{Error, ErrorKind, Result};
use crate::ntlm::{self, Sealing};
use base64::Engine;
use bytes::Bytes;
use csx_tls::Trust;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::Instant;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const BOUNDARY: &str = "Encrypted Boundary";
pub const ENCRYPTED_CONTENT_TYPE: &str =
    "multipart/encrypted;protocol=\"application/HTTP-SPNEGO-session-encrypted\";boundary=\"Encrypted Boundary\"";
pub const SOAP_CONTENT_TYPE: &str = "application/soap+xml;charset=UTF-8";

/// Where the listener is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Endpoint {
    /// A bare host means `https://host:5986/wsman` (as the built-in); a URL is used
    /// as given, with 5986/5985 and `/wsman` as defaults for what it leaves out.
    pub fn parse(url: &str) -> Result<Endpoint> {
        let url = url.trim();
        let bad = || {
            Error::config(format!(
                "the endpoint must be a host or a URL such as https://host:5986/wsman, found {url:?}"
            ))
        };
        let (https, rest) = match url.split_once("://") {
            Some((s, r)) if s.eq_ignore_ascii_case("https") => (true, r),
            Some((s, r)) if s.eq_ignore_ascii_case("http") => (false, r),
            Some(_) => return Err(bad()),
            None => (true, url),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains(['@', ' ', '?', '#']) || path.contains(['?', '#', ' ']) {
            return Err(bad());
        }
        let default_port = if https { 5986 } else { 5985 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, rest) = v6.split_once(']').ok_or_else(bad)?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if rest.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (authority.to_string(), default_port),
            }
        };
        let path = if path.is_empty() || path == "/" { "/wsman".to_string() } else { path.to_string() };
        Ok(Endpoint { https, host, port, path })
    }

    pub fn url(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{host}:{}{}", if self.https { "https" } else { "http" }, self.port, self.path)
    }
}

/// How to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// NTLMv2 under `Negotiate` (sealed on plain HTTP).
    Ntlm,
    /// HTTP Basic, HTTPS only (local accounts with `Auth/Basic` enabled).
    Basic,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub endpoint: Endpoint,
    pub user: String,
    pub password: String,
    pub auth: AuthMethod,
    pub trust: Trust,
}

/// Counters, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub connections: u32,
    pub handshakes: u32,
    pub requests: u32,
    /// Command requests sent (the host may have run them, even without an answer).
    pub commands: u32,
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    sealing: Option<Sealing>,
}

/// The transport: sends SOAP documents, returns SOAP answers (200 or 500).
pub struct Transport {
    settings: Settings,
    deadline: Instant,
    conn: Option<Conn>,
    pub stats: Stats,
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

impl Transport {
    pub fn new(settings: Settings, deadline: Instant) -> Result<Transport> {
        if settings.auth == AuthMethod::Basic && !settings.endpoint.https {
            return Err(Error::config(
                "Basic authentication would send the password in clear over plain HTTP; use https or NTLM",
            ));
        }
        Ok(Transport { settings, deadline, conn: None, stats: Stats::default() })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.settings.endpoint
    }

    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    async fn within<T>(&self, what: &str, f: impl std::future::Future<Output = T>) -> Result<T> {
        tokio::time::timeout_at(self.deadline, f).await.map_err(|_| {
            Error::timeout(format!("WinRM at {} did not answer in time ({what})", self.settings.endpoint.url()))
        })
    }

    /// A new connection, and over HTTPS the server certificate's channel binding.
    async fn connect(&mut self) -> Result<(SendRequest<Full<Bytes>>, Option<[u8; 16]>)> {
        let ep = self.settings.endpoint.clone();
        let unreachable =
            |e: &dyn std::fmt::Display| Error::unreachable(format!("cannot reach WinRM at {}: {e}", ep.url()));
        let tcp = self
            .within("connect", TcpStream::connect((ep.host.as_str(), ep.port)))
            .await?
            .map_err(|e| unreachable(&e))?;
        let _ = tcp.set_nodelay(true);
        let mut binding = None;
        let io: Box<dyn Io> = if ep.https {
            let config = csx_tls::client_config(&self.settings.trust).map_err(|e| Error::config(e.to_string()))?;
            let name = rustls_pki_types::ServerName::try_from(ep.host.clone())
                .map_err(|_| Error::config(format!("`{}` is not a valid TLS server name", ep.host)))?;
            let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
            let stream = self.within("TLS handshake", tls.connect(name, tcp)).await?.map_err(|e| {
                match csx_tls::certificate_failure(&e) {
                    Some(c) => Error::new(
                        ErrorKind::Certificate(c.clone()),
                        format!("cannot reach WinRM at {}: TLS: {c}", ep.url()),
                    ),
                    None => unreachable(&format!("TLS: {e}")),
                }
            })?;
            // Extended Protection: NTLM binds itself to this TLS channel through the certificate.
            binding = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| ntlm::channel_bindings(c));
            Box::new(stream)
        } else {
            Box::new(tcp)
        };
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        self.stats.connections += 1;
        Ok((sender, binding))
    }

    fn request(&self, body: Vec<u8>, content_type: &str, auth: Option<String>) -> Result<Request<Full<Bytes>>> {
        let ep = &self.settings.endpoint;
        let mut b = Request::post(ep.path.as_str()).header(HOST, format!("{}:{}", ep.host, ep.port));
        if !body.is_empty() {
            b = b.header(CONTENT_TYPE, content_type);
        }
        if let Some(a) = auth {
            b = b.header(AUTHORIZATION, a);
        } else if self.settings.auth == AuthMethod::Basic {
            let cred = B64.encode(format!("{}:{}", self.settings.user, self.settings.password));
            b = b.header(AUTHORIZATION, format!("Basic {cred}"));
        }
        b.body(Full::new(Bytes::from(body))).map_err(|e| Error::config(format!("HTTP request: {e}")))
    }

    async fn exchange(
        &mut self,
        sender: &mut SendRequest<Full<Bytes>>,
        req: Request<Full<Bytes>>,
    ) -> Result<(Response<()>, Bytes)> {
        self.stats.requests += 1;
        let url = self.settings.endpoint.url();
        // hyper refuses (with "canceled") a request sent before the connection is idle again.
        self.within("connection", sender.ready())
            .await?
            .map_err(|e| Error::unreachable(format!("WinRM at {url}: the connection closed: {e}")).broken())?;
        let resp = self
            .within("request", sender.send_request(req))
            .await?
            .map_err(|e| Error::unreachable(format!("WinRM at {url}: the connection failed: {e}")).broken())?;
        let (parts, body) = resp.into_parts();
        // Read the whole body, so the connection is free for the next request.
        let body = self
            .within("response body", body.collect())
            .await?
            .map_err(|e| Error::unreachable(format!("WinRM at {url}: reading the answer failed: {e}")).broken())?
            .to_bytes();
        Ok((Response::from_parts(parts, ()), body))
    }

    fn auth_failed(&self) -> Error {
        let causes = match self.settings.auth {
            AuthMethod::Ntlm => {
                "an incorrect password; an account that may not use WinRM (local Administrators or Remote Management \
                 Users); NTLM disabled or restricted by policy (Network security: Restrict NTLM); or a refused channel \
                 binding (CbtHardeningLevel Strict behind a TLS-terminating proxy: csx binds \
                 NTLM to the certificate it sees)"
            }
            AuthMethod::Basic => {
                "an incorrect password, an account that may not use WinRM, or Basic authentication off on the \
                 listener (Auth/Basic; it works only for local accounts)"
            }
        };
        Error::new(
            ErrorKind::Auth,
            format!(
            "WinRM at {} refused `{}` after a complete authentication exchange (HTTP 401). Possible causes: {causes}",
            self.settings.endpoint.url(),
            self.settings.user
        ),
        )
    }

    /// The NTLM handshake on a fresh connection. Over HTTPS the AUTHENTICATE leg
    /// carries `first` and its answer is returned; over HTTP it is empty and sealing starts.
    async fn handshake(
        &mut self,
        mut sender: SendRequest<Full<Bytes>>,
        binding: Option<[u8; 16]>,
        first: &[u8],
    ) -> Result<(Conn, Option<(Response<()>, Bytes)>)> {
        self.stats.handshakes += 1;
        let negotiate = ntlm::negotiate();
        let neg = format!("Negotiate {}", B64.encode(&negotiate));
        let (resp, _) = self.exchange(&mut sender, self.request(Vec::new(), SOAP_CONTENT_TYPE, Some(neg))?).await?;
        let challenge = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("Negotiate ").or_else(|| v.strip_prefix("NTLM ")))
            .and_then(|b| B64.decode(b.trim()).ok());
        let Some(challenge) = challenge else {
            let offered: Vec<&str> =
                resp.headers().get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok()).collect();
            return Err(Error::new(ErrorKind::Config, format!(
                "WinRM at {} did not offer NTLM (HTTP {}, WWW-Authenticate: {}); enable Negotiate authentication or use transport=basic over https",
                self.settings.endpoint.url(),
                resp.status().as_u16(),
                if offered.is_empty() { "none".to_string() } else { offered.join(", ") }
            )));
        };
        let auth = ntlm::authenticate(&negotiate, &challenge, &self.settings.user, &self.settings.password, binding)
            .map_err(|e| Error::protocol(e.0))?;
        let header = Some(format!("Negotiate {}", B64.encode(&auth.message)));
        if self.settings.endpoint.https {
            let (resp, body) =
                self.exchange(&mut sender, self.request(first.to_vec(), SOAP_CONTENT_TYPE, header)?).await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                return Err(self.auth_failed());
            }
            Ok((Conn { sender, sealing: None }, Some((resp, body))))
        } else {
            let (resp, _) = self.exchange(&mut sender, self.request(Vec::new(), SOAP_CONTENT_TYPE, header)?).await?;
            if resp.status() == StatusCode::UNAUTHORIZED {
                return Err(self.auth_failed());
            }
            Ok((Conn { sender, sealing: Some(Sealing::client(&auth.session_key)) }, None))
        }
    }

    /// Sends one SOAP document and returns the SOAP answer (HTTP 200, or 500 with a fault).
    pub async fn send(&mut self, soap: &str) -> Result<String> {
        let mut answered = None;
        let reusable = match self.conn.as_mut() {
            Some(c) => {
                let deadline = self.deadline;
                matches!(tokio::time::timeout_at(deadline, c.sender.ready()).await, Ok(Ok(())))
            }
            None => false,
        };
        if !reusable {
            self.conn = None;
            let (sender, binding) = self.connect().await?;
            match self.settings.auth {
                AuthMethod::Ntlm => {
                    let (conn, first) = self.handshake(sender, binding, soap.as_bytes()).await?;
                    self.conn = Some(conn);
                    answered = first;
                }
                AuthMethod::Basic => self.conn = Some(Conn { sender, sealing: None }),
            }
        }
        let (resp, body) = match answered {
            Some(r) => r,
            None => {
                let mut conn = self.conn.take().ok_or_else(|| Error::unreachable("no WinRM connection"))?;
                let req = match conn.sealing.as_mut() {
                    Some(s) => self.request(seal(s, soap.as_bytes()), ENCRYPTED_CONTENT_TYPE, None)?,
                    None => self.request(soap.as_bytes().to_vec(), SOAP_CONTENT_TYPE, None)?,
                };
                let r = self.exchange(&mut conn.sender, req).await;
                // A connection whose exchange was abandoned midway is still busy with it:
                // what follows (ending the command, deleting the shell) needs a new one.
                if r.is_ok() {
                    self.conn = Some(conn);
                }
                r?
            }
        };
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            self.conn = None;
            return Err(self.auth_failed());
        }
        let sealed = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("multipart/encrypted"));
        let body = match (sealed, self.conn.as_mut().and_then(|c| c.sealing.as_mut())) {
            (true, Some(s)) => unseal(s, &body).map_err(|e| Error::protocol(format!("WinRM answer: {e}")))?,
            (true, None) => return Err(Error::protocol("WinRM sent a sealed answer on a connection without sealing")),
            (false, _) => body.to_vec(),
        };
        if status == StatusCode::OK || (status == StatusCode::INTERNAL_SERVER_ERROR && !body.is_empty()) {
            return String::from_utf8(body).map_err(|_| Error::protocol("WinRM answered with text that is not UTF-8"));
        }
        let hint = if status == StatusCode::INTERNAL_SERVER_ERROR && !self.settings.endpoint.https {
            " (Windows answers an unencrypted request this way: the listener requires encryption)"
        } else {
            ""
        };
        Err(Error::protocol(format!(
            "WinRM at {} answered HTTP {}{hint}: {}",
            self.settings.endpoint.url(),
            status.as_u16(),
            String::from_utf8_lossy(&body[..body.len().min(300)]).trim()
        )))
    }
}

/// Wraps a sealed message in MS-WSMV's `multipart/encrypted` framing.
pub fn seal(s: &mut Sealing, plain: &[u8]) -> Vec<u8> {
    let mut data = plain.to_vec();
    let sig = s.seal(&mut data);
    let mut out = Vec::with_capacity(data.len() + 256);
    out.extend_from_slice(format!(
        "--{BOUNDARY}\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type={SOAP_CONTENT_TYPE};Length={}\r\n--{BOUNDARY}\r\n\tContent-Type: application/octet-stream\r\n",
        plain.len()
    ).as_bytes());
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&sig);
    out.extend_from_slice(&data);
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Unwraps and unseals a `multipart/encrypted` body, checking length and signature.
pub fn unseal(s: &mut Sealing, body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let marker = b"\tContent-Type: application/octet-stream\r\n";
    let start = find(body, marker).ok_or("no encrypted part in the multipart body")? + marker.len();
    let header = String::from_utf8_lossy(&body[..start]);
    let length: usize = header
        .split("Length=")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .ok_or("no Length in the encrypted part's header")?;
    let end_marker = format!("--{BOUNDARY}--");
    let rest = &body[start..];
    let end = find(rest, end_marker.as_bytes()).unwrap_or(rest.len());
    let payload = &rest[..end];
    if payload.len() < 4 {
        return Err("truncated encrypted part".into());
    }
    let sig_len = u32::from_le_bytes(payload[..4].try_into().map_err(|_| "bad signature length")?) as usize;
    if sig_len != 16 || payload.len() < 4 + sig_len {
        return Err("bad NTLM signature length".into());
    }
    let (sig, data) = payload[4..].split_at(sig_len);
    if data.len() != length {
        return Err(format!("encrypted part is {} bytes, its header says {length}", data.len()));
    }
    let mut data = data.to_vec();
    s.unseal(&mut data, sig).map_err(|e| e.0)?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("hv01.example.com").unwrap();
        assert_eq!(e.url(), "https://hv01.example.com:5986/wsman");
        assert_eq!(Endpoint::parse("http://hv01").unwrap().url(), "http://hv01:5985/wsman");
        assert_eq!(Endpoint::parse("https://10.0.0.5:443/wsman/").unwrap().url(), "https://10.0.0.5:443/wsman/");
        assert_eq!(Endpoint::parse("hv01:5999").unwrap().url(), "https://hv01:5999/wsman");
        assert_eq!(Endpoint::parse("[fd00::5]").unwrap().url(), "https://[fd00::5]:5986/wsman");
        for bad in ["", "ftp://x", "user@host", "http://h:port", "https://h/w?x"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn framing_roundtrip_and_exact_layout() {
        let key = [7u8; 16];
        let (mut c, mut s) = (Sealing::client(&key), Sealing::server(&key));
        let body = seal(&mut c, b"<x/>");
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with("--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=4\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n\x10\0\0\0\x01\0\0\0"));
        // No CRLF between the sealed payload and the closing boundary.
        assert!(body.ends_with(b"--Encrypted Boundary--\r\n"));
        // The server unseals with the client-to-server keys.
        assert_eq!(unseal(&mut s, &body).unwrap(), b"<x/>");
        let mut tampered = seal(&mut c, b"<y/>");
        let n = tampered.len() - 26;
        tampered[n] ^= 0xff;
        assert!(unseal(&mut s, &tampered).is_err());
        assert!(unseal(&mut s, b"garbage").is_err());
    }
}
