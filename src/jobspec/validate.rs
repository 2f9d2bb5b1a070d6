//! Validation of job files: syntax and Nomad's semantic rules, with positions.
//!
//! The file is decoded as `parse` does (variables fall back to their defaults; one without a
//! default makes its uses unknown, and unknown values are not judged), then the rules in
//! `validate/rules.rs` run over the decoded job. Findings come out in file order.

mod rules;
mod version;

use super::parse::decode_for_validation;
use super::{Diagnostic, Severity};

/// Validates job file source; an empty list means valid.
pub fn validate_source(source: &str, file: &str) -> Vec<Diagnostic> {
    let decoded = decode_for_validation(source, file);
    let mut diagnostics = rules::check_decoded(&decoded, file);
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics.dedup();
    diagnostics
}

/// Validates job file source for a cluster of a given Nomad version: the findings of
/// [`validate_source`] plus every feature the file uses that the version lacks.
pub fn validate_source_for(
    source: &str,
    file: &str,
    features: &super::features::NomadFeatures,
) -> Vec<Diagnostic> {
    let decoded = decode_for_validation(source, file);
    let mut diagnostics = rules::check_decoded(&decoded, file);
    diagnostics.extend(version::check_version(&decoded, file, features));
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics.dedup();
    diagnostics
}

/// True when no finding is an error (warnings allowed).
pub fn is_valid(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().all(|d| d.severity != Severity::Error)
}

#[cfg(test)]
mod tests;
