//! A TLS front for a plain-HTTP mock: terminates TLS with a fresh self-signed
//! certificate and relays bytes to the mock, so clients are tested against real
//! HTTPS (certificate verification, CA files, fingerprint pinning).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// A running TLS front.
pub struct TlsFront {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// SHA-256 of the certificate, `AA:BB:...` as Proxmox shows it.
    pub fingerprint: String,
    /// The certificate as PEM, in a file (it is its own CA).
    pub ca_file: PathBuf,
    /// The certificate (DER), e.g. for TLS channel binding.
    pub cert_der: Vec<u8>,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop (keeps the crate free of a tempfile dependency).
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl TlsFront {
    /// Listens on `listener` (or a random loopback port) and relays to `backend`.
    pub async fn start(backend: SocketAddr, listener: Option<std::net::TcpListener>) -> std::io::Result<TlsFront> {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let der = cert.cert.der().clone();
        let cert_der = der.to_vec();
        let fp = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
        let fingerprint = fp.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":");
        let dir = std::env::temp_dir().join(format!("csx-mock-tls-{}-{}", std::process::id(), backend.port()));
        std::fs::create_dir_all(&dir)?;
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, cert.cert.pem())?;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = match listener {
            Some(l) => {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)?
            }
            None => TcpListener::bind("127.0.0.1:0").await?,
        };
        let url = format!("https://{}", listener.local_addr()?);
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut plain) = TcpStream::connect(backend).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Ok(TlsFront { url, fingerprint, ca_file, cert_der, _dir: tempdir::Dir(dir) })
    }
}
