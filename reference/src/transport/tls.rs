//! TLS for the clients built on reqwest 0.13 (the MCP SDK's and the OTLP exporter's): they use
//! rustls without a built-in crypto provider, so ring — which the rest of the binary already
//! uses — is installed once, before the first of them is built.

use std::sync::Once;

pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
