//! The HTTPS client: reqwest on rustls with the `ring` crypto provider.
//!
//! spillway puts exactly one rustls crypto provider in the dependency graph, `ring` (kube's
//! default): reqwest is built with `rustls-no-provider` and handed a rustls configuration built
//! on `ring` explicitly, so no process-wide default provider is needed or installed, and nothing
//! panics at run time for want of one (reqwest 0.13's default would pull in `aws-lc-rs`, and
//! two providers in one process make rustls refuse to pick).

use std::sync::Arc;
use std::time::Duration;

use crate::backend::BackendError;

/// An HTTP(S) client with a per-request timeout, TLS through rustls + ring, certificates
/// verified with the platform's roots.
///
/// # Errors
///
/// [`BackendError::Transient`] with code `TlsSetup` when the TLS configuration or the client
/// cannot be built.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, BackendError> {
    let setup = |e: &dyn std::fmt::Display| BackendError::transient("TlsSetup", format!("cannot set up TLS: {e}"));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone()).map_err(|e| setup(&e))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| setup(&e))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder().tls_backend_preconfigured(config).timeout(timeout).build().map_err(|e| setup(&e))
}
