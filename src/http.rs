//! Shared plumbing of the HTTP clients (Nomad, Consul, Fabio, Vault, the LLM).
//!
//! Owns only how a transport failure is put into words; each client keeps its own errors.

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
