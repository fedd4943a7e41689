//! csx-tls: certificate trust for hypervisor clients — system roots (default), a
//! CA file, SHA-256 fingerprint pinning (as Proxmox and Windows show it), or none.
//! A protocol library: it knows nothing of CloudStack; its errors are its own.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::PathBuf;
use std::sync::Arc;

/// How the server certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's CA store, with hostname checks.
    System,
    /// Only the CAs in this PEM file (e.g. `/etc/pve/pve-root-ca.pem`), with hostname checks.
    CaFile(PathBuf),
    /// The leaf certificate's SHA-256 must be this (chain and hostname are not checked).
    Fingerprint([u8; 32]),
    /// Nothing is checked (`verify_tls_certificate=false`).
    Insecure,
}

/// What went wrong setting up trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsError {
    /// The configuration is wrong (a fingerprint that is not one, an unreadable CA file).
    Config(String),
    /// The TLS library could not be set up.
    Setup(String),
}

impl Trust {
    /// True when nothing about the peer's certificate is checked.
    pub fn is_insecure(&self) -> bool {
        matches!(self, Trust::Insecure)
    }
}

/// The trust mode in words, for operators (`doctor`).
impl std::fmt::Display for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trust::System => write!(f, "the system's CA certificates, with the host name checked"),
            Trust::CaFile(p) => write!(f, "the CA certificates in {}, with the host name checked", p.display()),
            Trust::Fingerprint(fp) => {
                let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
                write!(f, "the pinned certificate with SHA-256 fingerprint {}", hex.join(":"))
            }
            Trust::Insecure => write!(f, "no checks at all: anyone on the path can pose as the host"),
        }
    }
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Config(m) | TlsError::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TlsError {}

type Result<T, E = TlsError> = std::result::Result<T, E>;

impl Trust {
    /// The trust mode from the usual settings: a pinned fingerprint wins, then a CA file,
    /// then `verify` (system roots, or nothing checked).
    pub fn from_settings(fingerprint: Option<&str>, ca_file: Option<&str>, verify: bool) -> Result<Trust> {
        Ok(if let Some(fp) = fingerprint {
            Trust::Fingerprint(parse_fingerprint(fp)?)
        } else if let Some(ca) = ca_file {
            Trust::CaFile(ca.into())
        } else if verify {
            Trust::System
        } else {
            Trust::Insecure
        })
    }
}

/// Parses `AA:BB:…` (32 bytes; colons, spaces and case optional; `sha256:` prefix allowed).
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32]> {
    let hex: String = s
        .trim()
        .trim_start_matches("sha256:")
        .trim_start_matches("SHA256:")
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bad = || {
        TlsError::Config(format!(
            "the certificate fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), found {s:?}"
        ))
    };
    // ASCII hex digits only: slicing by byte offsets below relies on it.
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// `AA:BB:...` upper-case hex.
pub fn hex_colon(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect::<Vec<_>>().join(":")
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration for a trust mode.
/// The pinned fingerprint is not the one the server presented.
#[derive(Clone, PartialEq, Eq)]
pub struct FingerprintMismatch {
    pub presented: String,
    pub pinned: String,
}

impl std::fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "certificate fingerprint mismatch: the server presented SHA-256 {}, but tls_fingerprint is {}",
            self.presented, self.pinned
        )
    }
}

// rustls shows its `Other` certificate errors with `Debug`: keep that readable too.
impl std::fmt::Debug for FingerprintMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for FingerprintMismatch {}

/// Why a TLS connection failed on the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateFailure {
    /// Not trusted (unknown issuer, expired, wrong name...): rustls' own words.
    Untrusted(String),
    /// Trusted by pin, but not the pinned certificate.
    Mismatch(FingerprintMismatch),
}

impl std::fmt::Display for CertificateFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertificateFailure::Untrusted(s) => write!(f, "invalid peer certificate: {s}"),
            CertificateFailure::Mismatch(m) => m.fmt(f),
        }
    }
}

/// The certificate failure behind an error (reqwest's, hyper's, an I/O error from a TLS
/// stream), found by type along its source chain; `None` for any other failure.
pub fn certificate_failure(e: &(dyn std::error::Error + 'static)) -> Option<CertificateFailure> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(rustls::Error::InvalidCertificate(c)) = err.downcast_ref::<rustls::Error>() {
            if let rustls::CertificateError::Other(o) = c {
                if let Some(m) = o.0.downcast_ref::<FingerprintMismatch>() {
                    return Some(CertificateFailure::Mismatch(m.clone()));
                }
            }
            return Some(CertificateFailure::Untrusted(c.to_string()));
        }
        // An I/O error's `source()` skips the error it wraps: look inside it first.
        cur = match err.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

/// The certificate a TLS server at `host:port` presents (DER) and its SHA-256 fingerprint
/// (`AA:BB:…`), read with a handshake that trusts nothing and sends nothing after it.
pub fn presented_certificate(host: &str, port: u16, timeout: std::time::Duration) -> Result<(Vec<u8>, String)> {
    use std::net::ToSocketAddrs;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| TlsError::Setup(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| TlsError::Setup(format!("{host} has no address")))?;
    let mut tcp = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| TlsError::Setup(format!("cannot connect to {host}:{port}: {e}")))?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    // Trusts nothing and remembers what it was shown: for display only, never for trust.
    let capture = Arc::new(Pinned { fingerprint: None, provider: provider(), seen: Default::default() });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(format!("TLS setup: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| TlsError::Config(format!("`{host}` is not a valid TLS server name")))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| TlsError::Setup(format!("TLS setup: {e}")))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| TlsError::Setup(format!("TLS handshake with {host}:{port}: {e}")))?;
    }
    let der = capture
        .seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or_else(|| TlsError::Setup(format!("{host}:{port} presented no certificate")))?;
    let fp = hex_colon(ring::digest::digest(&ring::digest::SHA256, &der).as_ref());
    Ok((der, fp))
}

pub fn client_config(trust: &Trust) -> Result<rustls::ClientConfig> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(format!("TLS setup: {e}")))?;
    let config = match trust {
        Trust::System | Trust::CaFile(_) => {
            let mut roots = rustls::RootCertStore::empty();
            if let Trust::CaFile(path) = trust {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| TlsError::Config(format!("cannot read the CA file {}: {e}", path.display())))?;
                for cert in certs {
                    let cert = cert.map_err(|e| TlsError::Config(format!("the CA file {}: {e}", path.display())))?;
                    roots.add(cert).map_err(|e| TlsError::Config(format!("the CA file {}: {e}", path.display())))?;
                }
                if roots.is_empty() {
                    return Err(TlsError::Config(format!("the CA file {} holds no certificate", path.display())));
                }
            } else {
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Fingerprint(fp) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                fingerprint: Some(*fp),
                provider: provider(),
                seen: Default::default(),
            }))
            .with_no_client_auth(),
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                fingerprint: None,
                provider: provider(),
                seen: Default::default(),
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Accepts the leaf whose SHA-256 matches (or any leaf when `fingerprint` is None);
/// handshake signatures are still verified.
#[derive(Debug)]
struct Pinned {
    fingerprint: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
    /// The last certificate the server presented.
    seen: std::sync::Mutex<Option<Vec<u8>>>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(end_entity.to_vec());
        let Some(want) = self.fingerprint else { return Ok(ServerCertVerified::assertion()) };
        let got = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if got.as_ref() == want {
            Ok(ServerCertVerified::assertion())
        } else {
            let mismatch = FingerprintMismatch { presented: hex_colon(got.as_ref()), pinned: hex_colon(&want) };
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(
                mismatch,
            )))))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints() {
        let s = "AB:".repeat(31) + "CD";
        let fp = parse_fingerprint(&s).unwrap();
        assert_eq!(fp[0], 0xab);
        assert_eq!(fp[31], 0xcd);
        assert_eq!(parse_fingerprint(&s.replace(':', "").to_lowercase()).unwrap(), fp);
        assert!(parse_fingerprint("AB:CD").is_err());
        assert!(parse_fingerprint(&"ZZ".repeat(32)).is_err());
        // Found by the property tests: multi-byte characters once panicked here.
        assert!(parse_fingerprint(&format!("é{}", "A".repeat(62))).is_err());
        assert_eq!(hex_colon(&fp), s);
    }
}
