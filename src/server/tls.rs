//! Built-in TLS (`--tls-cert`, `--tls-key`): the server speaks `https://` and `wss://`
//! itself, with rustls and the `ring` provider.
//!
//! Owns: loading the PEM certificate chain and key into a rustls server configuration.
//! Must not touch routing, headers or the hub; the handshakes themselves run in the accept
//! loop ([`super::listen`]), each in its connection's own task.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::{self, PemObject};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate chain {path}: {source}")]
    Certificate { path: PathBuf, source: pem::Error },
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    #[error("cannot read the TLS private key {path}: {source}")]
    Key { path: PathBuf, source: pem::Error },
    #[error("the TLS certificate and key do not make a server configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Loads the PEM certificate chain at `cert` and the PEM private key at `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certificate_error = |source| TlsError::Certificate {
        path: cert.to_owned(),
        source,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(certificate_error)?
        .collect::<Result<_, _>>()
        .map_err(certificate_error)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_owned(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // axum serves HTTP/1.1 only (WebSockets upgrade over it).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
