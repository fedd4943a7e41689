//! Configuration from the payload, with the built-in extension's keys unchanged.

use crate::keys;
use csx_core::{Error, Payload, Result};
use csx_tls::Trust;

/// How we authenticate to Proxmox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `PVEAPIToken=USER@REALM!TOKENID=SECRET`.
    Token { id: String, secret: String },
    /// Ticket login with a password (sites without API tokens).
    Password { user: String, password: String },
}

/// Connection settings: what every action needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `https://host:8006/api2/json`.
    pub api: String,
    pub auth: Auth,
    pub trust: Trust,
    /// The node this CloudStack host maps to.
    pub node: String,
}

impl Connection {
    pub fn from_payload(p: &Payload) -> Result<Connection> {
        let api = api_base(p.require_detail(&keys::URL)?)?;
        let user = p.require_detail(&keys::USER)?;
        let user = match (user.contains('@'), p.detail(&keys::REALM)) {
            (false, Some(realm)) => format!("{user}@{realm}"),
            (false, None) => format!("{user}@pam"),
            (true, _) => user.to_string(),
        };
        let auth = match (p.detail(&keys::TOKEN), p.detail(&keys::SECRET), p.detail(&keys::PASSWORD)) {
            (Some(token), Some(secret), _) => {
                // `token` is the token name; a full `user@realm!name` id is accepted too.
                let id = if token.contains('!') { token.to_string() } else { format!("{user}!{token}") };
                Auth::Token { id, secret: secret.to_string() }
            }
            (_, _, Some(password)) => Auth::Password { user, password: password.to_string() },
            (Some(_), None, None) => return Err(Error::bad_input("missing configuration `secret` (the API token's secret) for token `token`")),
            _ => {
                return Err(Error::bad_input(
                    "missing credentials: set `token` and `secret` (an API token of `user`), or `password` for ticket login",
                ))
            }
        };
        let trust = Trust::from_settings(
            p.detail(&keys::TLS_FINGERPRINT),
            p.detail(&keys::TLS_CA_FILE),
            p.detail_bool(&keys::VERIFY_TLS, true)?,
        )
        .map_err(|e| Error::bad_input(format!("TLS settings (`tls_fingerprint`, `tls_ca_file`): {e}")))?;
        if api.starts_with("http://") && !p.detail_bool(&keys::ALLOW_PLAIN_HTTP, false)? {
            return Err(Error::bad_input(
                "detail `url` uses plain http://, so the API token or password would cross the network in clear; \
                 use https://, or set `allow_plain_http=true` (a host, extension or cluster detail) on a network you trust",
            ));
        }
        let node = p.require_detail(&keys::NODE)?.to_string();
        if !is_dns_label(&node) {
            return Err(Error::bad_input(format!("detail `node` must be a Proxmox node name, found {node:?}")));
        }
        Ok(Connection { api, auth, trust, node })
    }
}

/// `url` may be `host`, `host:port`, `https://host[:port][/][api2/json]`; the port defaults to 8006.
pub fn api_base(url: &str) -> Result<String> {
    let url = url.trim();
    // `user:password@host`: refused without repeating it (the password would be in the message).
    if url.split_once("://").map(|(_, r)| r).unwrap_or(url).split('/').next().is_some_and(|a| a.contains('@')) {
        return Err(Error::bad_input(
            "detail `url` carries a user name or password (`user:password@host`); give only the host and set \
             `user` with `token`/`secret` (or `password`) instead",
        ));
    }
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {
            (s.to_ascii_lowercase(), r)
        }
        Some((s, _)) => return Err(Error::bad_input(format!("detail `url` has unsupported scheme {s:?}; use https"))),
        None => ("https".to_string(), url),
    };
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix("/api2/json").unwrap_or(rest).trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(Error::bad_input(format!(
            "detail `url` must be a host, host:port or https://host:port, found {url:?}"
        )));
    }
    // `[v6]:port` or `host:port`; a bracketed IPv6 address alone has no port.
    let has_port = if rest.starts_with('[') { rest.contains("]:") } else { rest.contains(':') };
    if has_port {
        let port = rest.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
        port.parse::<u16>().map_err(|_| Error::bad_input(format!("detail `url` has an invalid port: {url:?}")))?;
    }
    let authority = if has_port { rest.to_string() } else { format!("{rest}:8006") };
    Ok(format!("{scheme}://{authority}/api2/json"))
}

/// Proxmox's `pve-node` / one `dns-name` label.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Proxmox's `dns-name` format (VM names).
pub fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Proxmox's `pve-configid` format (snapshot names), and not reserved.
pub fn check_snapshot_name(s: &str) -> Result<()> {
    let ok = s.len() >= 2
        && s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !matches!(s, "current" | "pending");
    if ok {
        Ok(())
    } else {
        Err(Error::bad_input(format!(
            "snapshot name {s:?} is not valid for Proxmox: 2-40 letters, digits, `_` or `-`, starting with a letter \
             (and not `current` or `pending`)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_url_are_refused_unrepeated() {
        for url in ["https://root:S3cret-pw@pve1:8006", "root:S3cret-pw@pve1", "http://a@b/api2/json"] {
            let e = api_base(url).unwrap_err();
            assert!(!e.message().contains("S3cret") && e.message().contains("user:password@"), "{}", e.message());
        }
    }

    #[test]
    fn urls() {
        for (input, want) in [
            ("pve1.example.com", "https://pve1.example.com:8006/api2/json"),
            ("pve1:8443", "https://pve1:8443/api2/json"),
            ("https://pve1", "https://pve1:8006/api2/json"),
            ("https://pve1:8006/", "https://pve1:8006/api2/json"),
            ("https://10.0.0.1:8006/api2/json", "https://10.0.0.1:8006/api2/json"),
            ("http://127.0.0.1:4000", "http://127.0.0.1:4000/api2/json"),
            ("[fd00::1]", "https://[fd00::1]:8006/api2/json"),
            ("[fd00::1]:9000", "https://[fd00::1]:9000/api2/json"),
        ] {
            assert_eq!(api_base(input).unwrap(), want, "{input}");
        }
        for bad in ["", "ftp://x", "https://x/y", "x:notaport", "user@host", "https://"] {
            assert!(api_base(bad).is_err(), "{bad}");
        }
    }

    fn payload(v: serde_json::Value) -> Payload {
        Payload::from_slice(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn built_in_keys() {
        let p = payload(serde_json::json!({"externaldetails": {
            "host": {"url": "pve1", "node": "pve1", "verify_tls_certificate": "false"},
            "extension": {"user": "root@pam", "token": "cs", "secret": "s3cr3t-value"}}}));
        let c = Connection::from_payload(&p).unwrap();
        assert_eq!(c.auth, Auth::Token { id: "root@pam!cs".into(), secret: "s3cr3t-value".into() });
        assert_eq!(c.trust, Trust::Insecure);
        assert_eq!(c.node, "pve1");
        let p = payload(
            serde_json::json!({"externaldetails": {"host": {"url": "pve1", "node": "pve1", "user": "cs", "realm": "pve", "password": "pw-value"}}}),
        );
        assert_eq!(
            Connection::from_payload(&p).unwrap().auth,
            Auth::Password { user: "cs@pve".into(), password: "pw-value".into() }
        );
        for missing in ["url", "node", "user"] {
            let mut host =
                serde_json::json!({"url": "pve1", "node": "pve1", "user": "root@pam", "token": "t", "secret": "s"});
            host.as_object_mut().unwrap().remove(missing);
            let e =
                Connection::from_payload(&payload(serde_json::json!({"externaldetails": {"host": host}}))).unwrap_err();
            assert!(e.message().contains(&format!("`{missing}`")), "{}", e.message());
        }
    }

    #[test]
    fn names() {
        assert!(is_dns_name("i-2-45-VM") && is_dns_name("web01.example.com"));
        assert!(!is_dns_name("-x") && !is_dns_name("a_b") && !is_dns_name(""));
        assert!(check_snapshot_name("pre-upgrade_1").is_ok());
        for bad in ["1abc", "a", "current", "a b", "x$(rm)", &"a".repeat(41)] {
            assert!(check_snapshot_name(bad).is_err(), "{bad}");
        }
    }
}
