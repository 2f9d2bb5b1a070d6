//! The process-wide TLS crypto provider.
//!
//! Only rustls's `ring` backend is compiled in; it must be installed once before the first
//! TLS client is built, or rustls panics. Every HTTP client constructor calls
//! [`install_crypto_provider`], so library users and tests need not remember to.

/// Installs the `ring` provider as the process default; a no-op when one is installed.
pub fn install_crypto_provider() {
    // An error only means another provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
