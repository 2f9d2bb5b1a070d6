//! Explaining syntax errors: the parser's message plus, when the file shows it, the likely
//! reason: HCL1-only syntax (Nomad removed HCL1 support in 1.9) or a template language
//! (Levant, Nomad Pack, Terraform `templatefile`) that must be rendered first.

/// The message for a syntax error at byte `offset`.
pub(crate) fn explain_syntax_error(source: &str, offset: usize, parser_message: &str) -> String {
    let line = line_at(source, offset);
    let mut message = format!("syntax error: {}", tidy(parser_message));
    if parser_message.contains("nesting depth") {
        message.push_str("; the input is nested too deeply to be a job file");
    } else if let Some(delimiter) = open_heredoc(source, offset) {
        message.push_str(&format!(
            "; the heredoc started with <<{delimiter} is never closed: end it with a line \
             holding only {delimiter}"
        ));
    } else if in_interpolation(source, offset) {
        message.push_str(
            "; `${` starts an HCL interpolation, even in heredocs: write `$${` to keep a \
             literal `${`, as shell and template variables need",
        );
    } else if (line.matches('"').count() - line.matches("\\\"").count()) % 2 == 1 {
        message.push_str("; a string on this line is not closed: add the closing `\"`");
    } else if looks_like_go_template(line) {
        message.push_str(
            "; the file looks like a Levant or Nomad Pack template (`[[ ... ]]`): render it \
             before parsing",
        );
    } else if let Some(why) = hcl1_feature(line) {
        message.push_str(&format!(
            "; {why} is HCL1 syntax, and Nomad removed HCL1 support in 1.9: rewrite the file \
             in HCL2"
        ));
    } else if one_line_block_with_many_arguments(line) {
        message.push_str(
            "; a block written on one line holds a single argument: put each argument on its \
             own line (HCL1 allowed more, and Nomad removed HCL1 support in 1.9)",
        );
    } else if line.contains("${")
        && !inside_quotes(line, line.find("${").unwrap_or(0))
        && !in_heredoc(source, offset)
    {
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

/// `resources { cpu = 100 memory = 128 }`: valid in HCL1, not in HCL2.
fn one_line_block_with_many_arguments(line: &str) -> bool {
    let Some(open) = line.find('{') else { return false };
    let inner = &line[open..];
    inner.matches('=').count() - inner.matches("==").count() * 2 >= 2 && !inside_quotes(line, open)
}

/// Whether `offset` is inside a `${ ... }` of a string or heredoc (an unclosed one on its
/// line, the parser having stopped in it).
fn in_interpolation(source: &str, offset: usize) -> bool {
    let offset = offset.min(source.len());
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &source[start..offset];
    let Some(open) = before.rfind("${") else { return false };
    let escaped = open > 0 && before[..open].ends_with('$');
    !escaped
        && !before[open..].contains('}')
        && (inside_quotes(before, open) || in_heredoc(source, offset))
}

/// Whether `offset` lies in the body of a heredoc (`<<EOT` ... `EOT`).
fn in_heredoc(source: &str, offset: usize) -> bool {
    let offset = offset.min(source.len());
    let mut rest = &source[..offset];
    while let Some(start) = rest.rfind("<<") {
        let name: String = rest[start + 2..]
            .trim_start_matches('-')
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            let body_start = source[start..].find('\n').map_or(source.len(), |i| start + i + 1);
            if body_start > offset {
                return false;
            }
            let closed_before = source[body_start..offset].lines().any(|l| l.trim() == name);
            return !closed_before;
        }
        rest = &rest[..start];
    }
    false
}

/// `[[ .name ]]`, `[[- template ... ]]`: Levant and Nomad Pack delimiters.
fn looks_like_go_template(line: &str) -> bool {
    line.match_indices("[[").any(|(i, _)| {
        let after = line[i + 2..].trim_start_matches(['-', ' ']);
        after.starts_with(['.', '$']) || after.starts_with(|c: char| c.is_ascii_alphabetic())
    })
}

/// The delimiter of a heredoc that opens before `offset` and has no end line.
fn open_heredoc(source: &str, offset: usize) -> Option<String> {
    let before = &source[..offset.min(source.len())];
    let start = before.rfind("<<")?;
    let name: String = before[start + 2..]
        .trim_start_matches('-')
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        return None;
    }
    let closed = source[start..].lines().skip(1).any(|l| l.trim() == name);
    (!closed).then_some(name)
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
