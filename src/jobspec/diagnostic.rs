//! Diagnostics about a job file: where (file, line, column), how bad, and what, in words.
//!
//! Shared by `parse`, `format` and `validate`, rendered for a terminal and as JSON, and
//! later posted as check-run annotations.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the file is still valid.
    Warning,
    /// The file is invalid: Nomad would reject it or it would not run.
    Error,
}

/// One finding about a job file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// File as the user named it.
    pub file: String,
    /// 1-based line (0 when the finding is about the whole file).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    pub severity: Severity,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

impl Diagnostic {
    /// An error at a position.
    pub fn error(
        file: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A warning at a position.
    pub fn warning(
        file: impl Into<String>,
        line: u32,
        column: u32,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line:column: error: message`, as compilers print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}:{}: {}: {}", self.file, self.line, self.column, severity, self.message)
    }
}
