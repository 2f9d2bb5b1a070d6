//! Shared plumbing of the HTTP clients (Nomad, Consul, Fabio, Vault, the LLM).
//!
//! Owns how a transport failure is put into words and how a client trusts a CA bundle named
//! by a setting; each client keeps its own errors.

/// An error and its causes on one line, each cause once (`error sending request: connection
/// refused`), since reqwest's own message hides the cause.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `builder` trusting every certificate of the PEM bundle at `path`, which the setting
/// `variable` names (`NOMAD_CACERT`, `CONSUL_CACERT`, ...); the error says which and why.
pub fn trust_ca_bundle(
    mut builder: reqwest::ClientBuilder,
    path: &std::path::Path,
    variable: &str,
) -> Result<reqwest::ClientBuilder, String> {
    let wrong = |err: &dyn std::fmt::Display| format!("{variable} {}: {err}", path.display());
    let pem = std::fs::read(path).map_err(|err| wrong(&err))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| wrong(&err))?;
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    Ok(builder)
}
