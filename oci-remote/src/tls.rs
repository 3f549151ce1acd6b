//! The TLS crypto provider every HTTPS client of the process uses (reqwest's and oci-client's).
//! ferry builds rustls on `ring` rather than its default aws-lc: the same algorithms, and a C
//! build a fraction of aws-lc's (docs/testing.md). reqwest without a provider of its own asks
//! for the process default, so it is installed before the first client is built.

use std::sync::Once;

/// Installs `ring` as the process's rustls provider, once; a provider already installed (by an
/// embedding program) is left as it is.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is already the default: that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
