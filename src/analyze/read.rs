//! Reading repository text: the helpers every reader of the analyzer shares.
//!
//! The analyzer's readers (compose, Dockerfiles, manifests, source, other descriptors) all need
//! the same few things: a way to ask for a file's text (`ReadText`, so a reader can be fed from
//! the walk or from a test), 1-based lines for evidence, multi-document YAML and TOML whose
//! errors become notes at the right line, and command lines split into words. They live here,
//! below every reader, so that no reader imports another for them.

use super::Note;

/// Reads one file of the repository as text, or adds a note saying why it cannot.
pub type ReadText<'a> = dyn FnMut(&str, &mut Vec<Note>) -> Option<String> + 'a;

/// 1-based line of the first occurrence of `needle` at or after byte `from`.
pub fn line_of(text: &str, needle: &str, from: usize) -> Option<u32> {
    let from = from.min(text.len());
    let offset = text.get(from..)?.find(needle)? + from;
    Some(line_at(text, offset))
}

/// 1-based line of byte `offset` in `text`.
pub fn line_at(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    let line = text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1;
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// The documents of a multi-document YAML text, each with its byte offset.
pub fn documents(text: &str) -> Vec<(usize, &str)> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let is_separator = line.starts_with("---")
            && line[3..].trim_start().chars().next().is_none_or(|c| c == '#');
        if is_separator {
            documents.push((start, &text[start..offset]));
            start = offset + line.len();
        }
        offset += line.len();
    }
    documents.push((start, &text[start..]));
    documents.into_iter().filter(|(_, doc)| !doc.trim().is_empty()).collect()
}

/// Parses one YAML document; an error becomes a note at the right line of the whole file.
pub fn parse_yaml(
    text: &str,
    doc: &str,
    doc_offset: usize,
    file: &str,
    notes: &mut Vec<Note>,
) -> Option<serde_json::Value> {
    match serde_saphyr::from_str::<serde_json::Value>(doc) {
        Ok(value) => Some(value),
        Err(error) => {
            let first = line_at(text, doc_offset) - 1;
            let line = error
                .location()
                .and_then(|l| u32::try_from(l.line()).ok())
                .map(|l| l.saturating_add(first));
            let message = yaml_error_message(&error.to_string());
            notes.push(Note {
                file: Some(file.to_string()),
                line,
                message: format!("not valid YAML, document skipped: {message}"),
            });
            None
        }
    }
}

/// The reason of a YAML error without its position, which is relative to the document and
/// is given in the note's line instead: `error: line 3 column 11: unclosed bracket` →
/// `unclosed bracket`.
fn yaml_error_message(full: &str) -> String {
    let first = full.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error:").unwrap_or(first).trim();
    match first.split_once(": ") {
        Some((position, reason)) if position.starts_with("line ") => reason.to_string(),
        _ => first.to_string(),
    }
}

/// Parses a TOML file; an error becomes a note at its line.
pub fn toml_table(text: &str, file: &str, notes: &mut Vec<Note>) -> Option<toml::Table> {
    match text.parse::<toml::Table>() {
        Ok(table) => Some(table),
        Err(e) => {
            let message = format!("not valid TOML, skipped: {}", e.message());
            notes.push(match e.span() {
                Some(span) => Note::line(file, line_at(text, span.start), message),
                None => Note::file(file, message),
            });
            None
        }
    }
}

/// Splits a command line into words as a shell would without running one: unquoted
/// whitespace separates words, single and double quotes group and are removed, and `escape`
/// (`\\` in compose, Procfiles and most Dockerfiles; a Dockerfile's `# escape=` directive can
/// make it `` ` ``) takes the next character literally. An escaped `$` keeps its escape so that
/// a later variable substitution (a Dockerfile's `ARG`s) leaves it literal.
pub fn shell_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == escape => {
                if let Some(next) = chars.next() {
                    if next != '"' && next != escape {
                        current.push(c);
                    }
                    current.push(next);
                }
            }
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == escape => {
                if let Some(next) = chars.next() {
                    if next == '$' {
                        // Kept escaped so that substitution leaves it literal.
                        current.push(c);
                    }
                    current.push(next);
                    in_word = true;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_errors_read_well() {
        let cases = [
            ("error: line 3 column 11: unclosed bracket '['", "unclosed bracket '['"),
            ("error: line 1 column 1: x\n  |\n1 | snippet", "x"),
            ("something else", "something else"),
            ("", ""),
        ];
        for (full, message) in cases {
            assert_eq!(yaml_error_message(full), message, "{full}");
        }
        let mut notes = Vec::new();
        let text = "a: 1\n---\nb: 2\nc: [\n";
        let parsed: Vec<_> = documents(text)
            .into_iter()
            .filter_map(|(o, d)| parse_yaml(text, d, o, "x.yaml", &mut notes))
            .collect();
        assert_eq!(parsed.len(), 1);
        assert_eq!(
            (notes[0].line, notes[0].message.as_str()),
            (Some(4), "not valid YAML, document skipped: unclosed bracket '['")
        );
    }

    #[test]
    fn lines() {
        let text = "a\nb\nimage: x\nimage: x\n";
        assert_eq!(line_of(text, "image: x", 0), Some(3));
        assert_eq!(line_of(text, "image: x", 6), Some(4));
        assert_eq!(line_of(text, "nope", 0), None);
        assert_eq!(line_of(text, "a", 999), None);
    }

    #[test]
    fn words_as_a_shell_splits_them() {
        let cases: [(&str, char, &[&str]); 7] = [
            (
                "gunicorn -b 0.0.0.0:8000 app:app",
                '\\',
                &["gunicorn", "-b", "0.0.0.0:8000", "app:app"],
            ),
            ("sh -c 'echo \"hi there\"'", '\\', &["sh", "-c", "echo \"hi there\""]),
            ("say \"a b\" c", '\\', &["say", "a b", "c"]),
            ("a\\ b c", '\\', &["a b", "c"]),
            ("echo \\$HOME", '\\', &["echo", "\\$HOME"]),
            ("a` b c", '`', &["a b", "c"]),
            ("  ", '\\', &[]),
        ];
        for (line, escape, words) in cases {
            assert_eq!(shell_words(line, escape), words, "{line}");
        }
    }
}
