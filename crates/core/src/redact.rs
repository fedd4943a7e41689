//! Secret scrubbing for everything we print or log.
//!
//! Secrets are registered once per invocation: every payload value whose key
//! names a secret, plus whatever an adapter obtains at run time (tickets, CSRF
//! tokens). [`scrub`] replaces each registered value with `***`.

use crate::payload::Payload;
use std::sync::RwLock;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Secrets shorter than this are not scrubbed: they would mangle ordinary words
/// (and no real credential is that short).
const MIN_SECRET_LEN: usize = 4;

/// Key fragments that mark a detail as secret (compared case-insensitively).
const SECRET_KEYS: &[&str] =
    &["password", "passwd", "secret", "token", "ticket", "apikey", "api_key", "private_key", "credential"];

/// True when a detail with this key holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

/// Registers a secret value for scrubbing.
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < MIN_SECRET_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_string());
        // Longest first, so that a secret containing another is scrubbed whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Registers every secret found in the payload.
pub fn register_payload(p: &Payload) {
    register_payload_except(p, &[]);
}

/// Registers every secret found in the payload but the values of keys declared public
/// (`Key::public`): an identifier such as a token's name stays readable in messages.
pub fn register_payload_except(p: &Payload, public: &[&str]) {
    let ext = &p.externaldetails;
    let vm_details = p.vm.iter().flat_map(|vm| vm.details.iter());
    for (k, v) in [&ext.host, &ext.extension, &ext.resourcemap, &ext.virtualmachine, &ext.action]
        .into_iter()
        .flat_map(|m| m.iter())
        .chain(vm_details)
    {
        let k = k.strip_prefix("External:").unwrap_or(k);
        if is_secret_key(k) && !public.contains(&k) {
            register(v);
        }
    }
    if let Some(pw) = p.vm.as_ref().and_then(|vm| vm.vnc_password.as_deref()) {
        register(pw);
    }
    if let Some(params) = &p.parameters {
        for (k, v) in params {
            if let (true, Some(s)) = (is_secret_key(k), v.as_str()) {
                register(s);
            }
        }
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn scrub(text: &str) -> String {
    let all = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_payload_secrets() {
        let p = Payload::from_slice(
            br#"{"externaldetails":{"host":{"password":"Hunter2-Secret","url":"h"},"extension":{"secret":"abcd-efgh","token":"cs"}},
                "cloudstack.vm.details":{"vncPassword":"vncpw123"}}"#,
        )
        .unwrap();
        register_payload(&p);
        register("runtime-ticket-value");
        let s = scrub("pw=Hunter2-Secret s=abcd-efgh v=vncpw123 t=runtime-ticket-value token cs url h");
        assert_eq!(s, "pw=*** s=*** v=*** t=*** token cs url h");
    }
}
