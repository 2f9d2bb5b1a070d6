//! Canonical `nomad fmt` layout for any HCL text, keeping comments.
//!
//! `nomad fmt` is HashiCorp's `hclwrite.Format`: it re-spaces tokens and never changes
//! them. Literal text (comments, strings, heredoc lines) is never touched; spacing inside
//! `${ }` and `%{ }` belongs to an expression and is tightened like any other (`"${ x }"`
//! becomes `"${x}"`, as `nomad fmt` does). This module works in three steps: `lexer`
//! splits the text into tokens (refusing unterminated strings, heredocs and comments, and
//! unbalanced brackets), the grammar is checked with `hcl-edit` so a file that is not HCL2
//! is refused rather than rearranged, and `layout` re-spaces the tokens. Two things
//! differ from `nomad fmt`, both deliberate: the result always ends with a line break, and a
//! UTF-8 byte-order mark is dropped (HCL ignores it). Line endings (LF or CRLF) are kept.
//!
//! It does not own reading files or deciding what to write (that is `cli::fmt`), nor the
//! meaning of a job (that is `parse` and `validate`).

mod layout;
mod lexer;

use super::Diagnostic;

/// Formats HCL source in the canonical layout; a syntax error becomes a diagnostic.
pub fn format_hcl(source: &str, file: &str) -> Result<String, Diagnostic> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let with_line_break;
    let source = if source.is_empty() || source.ends_with('\n') {
        source
    } else {
        // A heredoc's closing marker and a line comment both need the line break, and the
        // formatted file ends with one anyway.
        let line_break = if source.contains("\r\n") { "\r\n" } else { "\n" };
        with_line_break = format!("{source}{line_break}");
        &with_line_break
    };
    let tokens = lexer::tokenize(source).map_err(|err| {
        let (line, column) = lexer::line_column(source, err.offset);
        Diagnostic::error(file, line, column, err.message)
    })?;
    check_grammar(source, file)?;
    Ok(layout::lay_out(source, &tokens))
}

/// Refuses text that is not HCL2: re-spacing it could change what another tool (a Levant or
/// Terraform template engine, an HCL1 reader) makes of it.
fn check_grammar(source: &str, file: &str) -> Result<(), Diagnostic> {
    let Err(err) = hcl_edit::parser::parse_body(source) else {
        return Ok(());
    };
    let location = err.location();
    let line = u32::try_from(location.line()).unwrap_or(u32::MAX);
    let column = u32::try_from(location.column()).unwrap_or(u32::MAX);
    let mut message = format!("not valid HCL2: {}", err.message());
    if let Some(hint) = hint(source) {
        message.push_str(&format!(" ({hint})"));
    }
    Err(Diagnostic::error(file, line, column, message))
}

/// A likely reason a job file is not HCL2, from what it looks like.
fn hint(source: &str) -> Option<&'static str> {
    // Levant actions: `[[ .name ]]`, `[[- range ... ]]`, `[[ end ]]`; a nested list such as
    // `[[1, 2]]` is not one.
    let levant = regex::Regex::new(
        r"\[\[-?\s*(\.|\$|range\b|if\b|else\b|end\b|with\b|template\b|define\b|block\b|env\b)",
    )
    .ok()?;
    if levant.is_match(source) {
        return Some("this looks like a Levant template: render it before formatting");
    }
    let directive_line = source.lines().any(|line| line.trim_start().starts_with("%{"));
    if directive_line {
        return Some("`%{` outside a string looks like a Terraform template: render it first");
    }
    None
}

#[cfg(test)]
mod tests;
