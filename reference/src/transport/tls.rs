//! TLS for every reqwest client in the binary (ours, the MCP SDK's and the OTLP exporter's):
//! reqwest is built with rustls and no built-in crypto provider (`rustls-no-provider`, so aws-lc
//! never enters the build), and it panics when a client is built before a process-wide provider
//! is installed. ring — which the rest of the binary already uses — is installed once, here.
//!
//! [`http_client`] is the one way to start a client: it installs ring first. clippy.toml forbids
//! `reqwest::Client::new`/`builder` everywhere else.

use std::sync::Once;

pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err only when a provider is already installed, which is all this needs.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A reqwest client builder whose `build()` cannot panic for want of a crypto provider.
#[expect(clippy::disallowed_methods, reason = "tls::http_client: the one place a reqwest client starts")]
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_builds_with_ring_installed() {
        assert!(super::http_client().build().is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
