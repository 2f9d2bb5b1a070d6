//! Variable substitution as Dockerfiles and compose files do it: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alternate}`, `${VAR+alternate}`,
//! `${VAR:?error}` and `${VAR?error}`, with nested substitutions inside the default.
//!
//! The two file kinds differ only in how a literal `$` is written: compose doubles it (`$$`),
//! a Dockerfile escapes it with its escape character (`\$`).

/// How a literal dollar sign is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollar {
    /// `$$` is a literal `$` (compose).
    Doubled,
    /// The escape character before `$` makes it literal (Dockerfile).
    Escaped(char),
}

/// The result of one substitution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substituted {
    /// The text with every variable replaced.
    pub text: String,
    /// Variables that were used but not set (and had no default).
    pub unset: Vec<String>,
    /// `${VAR:?message}` failures, as `VAR: message`.
    pub errors: Vec<String>,
}

/// Replaces variables in `text`; `lookup` gives a variable's value when it is set. An unset
/// variable without a default becomes empty, as Docker does.
pub fn substitute(
    text: &str,
    dollar: Dollar,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Substituted {
    let mut out = Substituted::default();
    let mut run = Run { dollar, lookup, keep_unset: false, unset: Vec::new(), errors: Vec::new() };
    out.text = run.expand(text);
    (out.unset, out.errors) = (run.unset, run.errors);
    out
}

/// [`substitute`], but an unset variable without a default is kept as written (`$PATH`,
/// `${HOST_IP}`): a value that needs the environment of whoever runs compose says so, rather
/// than becoming empty.
pub fn substitute_keeping_unset(
    text: &str,
    dollar: Dollar,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Substituted {
    let mut out = Substituted::default();
    let mut run = Run { dollar, lookup, keep_unset: true, unset: Vec::new(), errors: Vec::new() };
    out.text = run.expand(text);
    (out.unset, out.errors) = (run.unset, run.errors);
    out
}

/// One substitution under way.
struct Run<'a> {
    dollar: Dollar,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    keep_unset: bool,
    unset: Vec<String>,
    errors: Vec<String>,
}

impl Run<'_> {
    fn expand(&mut self, text: &str) -> String {
        let dollar = self.dollar;
        let chars: Vec<char> = text.chars().collect();
        let mut result = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if let Dollar::Escaped(escape) = dollar {
                if c == escape && chars.get(i + 1) == Some(&'$') {
                    result.push('$');
                    i += 2;
                    continue;
                }
            }
            if c != '$' {
                result.push(c);
                i += 1;
                continue;
            }
            match chars.get(i + 1) {
                Some('$') if dollar == Dollar::Doubled => {
                    result.push('$');
                    i += 2;
                }
                Some('{') => {
                    let Some(close) = closing_brace(&chars, i + 2) else {
                        // An unclosed `${` is kept as written; the caller's file is malformed but
                        // the rest of the value is still useful.
                        result.extend(&chars[i..]);
                        break;
                    };
                    let inner: String = chars[i + 2..close].iter().collect();
                    result.push_str(&self.braced(&inner));
                    i = close + 1;
                }
                Some(next) if next.is_ascii_alphabetic() || *next == '_' => {
                    let start = i + 1;
                    let mut end = start;
                    while end < chars.len()
                        && (chars[end].is_ascii_alphanumeric() || chars[end] == '_')
                    {
                        end += 1;
                    }
                    let name: String = chars[start..end].iter().collect();
                    match (self.lookup)(&name) {
                        Some(value) => result.push_str(&value),
                        None => {
                            if self.keep_unset {
                                result.push('$');
                                result.push_str(&name);
                            }
                            self.unset.push(name);
                        }
                    }
                    i = end;
                }
                _ => {
                    result.push('$');
                    i += 1;
                }
            }
        }
        result
    }
}

/// Index of the `}` closing a `${` whose content starts at `from`.
fn closing_brace(chars: &[char], from: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (offset, c) in chars[from..].iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(from + offset),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

impl Run<'_> {
    fn braced(&mut self, inner: &str) -> String {
        let name_end =
            inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
        let name = &inner[..name_end];
        let rest = &inner[name_end..];
        let value = (self.lookup)(name);
        let (operator, word) = if let Some(word) = rest.strip_prefix(":-") {
            (":-", word)
        } else if let Some(word) = rest.strip_prefix(":+") {
            (":+", word)
        } else if let Some(word) = rest.strip_prefix(":?") {
            (":?", word)
        } else if let Some(word) = rest.strip_prefix('-') {
            ("-", word)
        } else if let Some(word) = rest.strip_prefix('+') {
            ("+", word)
        } else if let Some(word) = rest.strip_prefix('?') {
            ("?", word)
        } else {
            ("", rest)
        };
        let empty_is_unset = operator.starts_with(':');
        let is_set = match &value {
            Some(v) => !(empty_is_unset && v.is_empty()),
            None => false,
        };
        match operator {
            ":-" | "-" => {
                if is_set {
                    value.unwrap_or_default()
                } else {
                    self.expand(word)
                }
            }
            ":+" | "+" => {
                if is_set {
                    self.expand(word)
                } else {
                    String::new()
                }
            }
            ":?" | "?" => {
                if is_set {
                    value.unwrap_or_default()
                } else {
                    let message = self.expand(word);
                    self.errors.push(format!("{name}: {message}"));
                    String::new()
                }
            }
            _ => match value {
                Some(v) => v,
                None => {
                    self.unset.push(name.to_string());
                    if self.keep_unset {
                        format!("${{{inner}}}")
                    } else {
                        String::new()
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "PORT" => Some("8080".into()),
            "EMPTY" => Some(String::new()),
            "HOST" => Some("db".into()),
            _ => None,
        }
    }

    #[test]
    fn every_form() {
        let cases = [
            ("$PORT", "8080"),
            ("${PORT}", "8080"),
            ("x${PORT}y", "x8080y"),
            ("${MISSING:-3000}", "3000"),
            ("${EMPTY:-3000}", "3000"),
            ("${EMPTY-3000}", ""),
            ("${MISSING-3000}", "3000"),
            ("${PORT:+set}", "set"),
            ("${EMPTY:+set}", ""),
            ("${EMPTY+set}", "set"),
            ("${MISSING:-${HOST}:5432}", "db:5432"),
            ("$$PORT", "$PORT"),
            ("price: 5$", "price: 5$"),
            ("${unclosed", "${unclosed"),
            ("$MISSING/x", "/x"),
        ];
        for (input, expected) in cases {
            let got = substitute(input, Dollar::Doubled, &vars);
            assert_eq!(got.text, expected, "{input}");
        }
    }

    #[test]
    fn dockerfile_escape_keeps_a_literal_dollar() {
        let got = substitute(r"\$PORT $PORT", Dollar::Escaped('\\'), &vars);
        assert_eq!(got.text, "$PORT 8080");
        let got = substitute("`$PORT", Dollar::Escaped('`'), &vars);
        assert_eq!(got.text, "$PORT");
    }

    #[test]
    fn unset_and_errors_are_reported() {
        let got = substitute("${A} ${B:?B is required}", Dollar::Doubled, &vars);
        assert_eq!(got.unset, ["A"]);
        assert_eq!(got.errors, ["B: B is required"]);
    }

    #[test]
    fn unset_variables_can_be_kept_as_written() {
        let vars = |name: &str| (name == "SET").then(|| "x".to_string());
        let got = substitute_keeping_unset(
            "$PATH:/bin ${HOST_IP} ${SET} ${GONE:-d} $$",
            Dollar::Doubled,
            &vars,
        );
        assert_eq!(got.text, "$PATH:/bin ${HOST_IP} x d $");
        assert_eq!(got.unset, ["PATH", "HOST_IP"]);
        assert_eq!(substitute("$PATH:/bin", Dollar::Doubled, &vars).text, ":/bin");
    }
}
