//! Explaining syntax errors: the parser's message plus, when the file shows it, the likely
//! reason: HCL1-only syntax (Nomad removed HCL1 support in 1.9) or a template language
//! (Levant, Nomad Pack, Terraform `templatefile`) that must be rendered first.

/// The message for a syntax error at byte `offset`.
pub(crate) fn explain_syntax_error(source: &str, offset: usize, parser_message: &str) -> String {
    let line = line_at(source, offset);
    let mut message = format!("syntax error: {}", tidy(parser_message));
    if line.contains("[[") || line.contains("]]") {
        message.push_str(
            "; the file looks like a Levant or Nomad Pack template (`[[ ... ]]`): render it \
             before parsing",
        );
    } else if let Some(why) = hcl1_feature(line) {
        message.push_str(&format!(
            "; {why} is HCL1 syntax, and Nomad removed HCL1 support in 1.9: rewrite the file \
             in HCL2"
        ));
    } else if line.contains("${") && !inside_quotes(line, line.find("${").unwrap_or(0)) {
        message.push_str(
            "; `${...}` outside a string looks like a Terraform `templatefile` placeholder: \
             render the template before parsing",
        );
    }
    message
}

/// The parser's message on one line, without its "expected" list when it is long.
fn tidy(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn line_at(source: &str, offset: usize) -> &str {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[offset..].find('\n').map_or(source.len(), |i| offset + i);
    &source[start..end]
}

fn inside_quotes(line: &str, at: usize) -> bool {
    line[..at.min(line.len())].matches('"').count() % 2 == 1
}

/// Which HCL1-only construct a line uses, if any.
fn hcl1_feature(line: &str) -> Option<&'static str> {
    let trimmed = line.trim_start();
    // `"key" = value` inside a block: HCL2 argument names are bare identifiers.
    if let Some(quoted) = trimmed.strip_prefix('"') {
        if let Some(end) = quoted.find('"') {
            let after = quoted[end + 1..].trim_start();
            if after.starts_with('=') && !after.starts_with("==") {
                return Some("a quoted argument name (`\"key\" = value`)");
            }
        }
    }
    // `foo.bar = value`: HCL2 identifiers have no dots.
    let key: String =
        trimmed.chars().take_while(|c| c.is_alphanumeric() || "_-.".contains(*c)).collect();
    if key.contains('.') && trimmed[key.len()..].trim_start().starts_with('=') {
        return Some("a dotted argument name (`a.b = value`)");
    }
    // `block "label" = {` or `key = [{`: HCL1 wrote blocks as assignments.
    if trimmed.contains("\" = {") || trimmed.contains("\"={") {
        return Some("a labeled block written with `=`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl1_features_are_named() {
        let cases = [
            (r#"    "foo.bar" = "x""#, Some("a quoted argument name (`\"key\" = value`)")),
            (r#"    foo.bar = "x""#, Some("a dotted argument name (`a.b = value`)")),
            (r#"  port "http" = {"#, Some("a labeled block written with `=`")),
            (r#"  driver = "docker""#, None),
        ];
        for (line, want) in cases {
            assert_eq!(hcl1_feature(line), want, "{line}");
        }
    }
}
