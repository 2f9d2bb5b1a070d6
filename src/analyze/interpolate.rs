//! Variable substitution as Dockerfiles and compose files do it: `$VAR`, `${VAR}`,
//! `${VAR:-default}`, `${VAR-default}`, `${VAR:+alternate}`, `${VAR+alternate}`,
//! `${VAR:?error}` and `${VAR?error}`, with nested substitutions inside the default.
//!
//! The two file kinds differ only in how a literal `$` is written: compose doubles it (`$$`),
//! a Dockerfile escapes it with its escape character (`\$`).
//!
//! Values come from pull requests, so one substitution is bounded: it reads its text once
//! (the `}` closing every `{` is found in one pass, not searched again per nesting level),
//! nests at most [`MAX_DEPTH`] levels deep and produces at most [`MAX_OUTPUT`] bytes; and the
//! substitutions of one file ([`FileSubstitution`]) produce at most [`MAX_FILE_OUTPUT`] bytes
//! together, since a short value can name a long variable many times. A value over a bound is
//! left as written and the result says which bound ([`Substituted::over`]), for the caller's
//! note.

use std::fmt;
use std::ops::Range;

/// Deepest nesting of `${...}` inside a default, alternate or error word; real files nest two
/// or three levels.
pub const MAX_DEPTH: usize = 32;

/// Most bytes one substitution may produce (its text, plus the messages of `${VAR:?message}`
/// and the names of unset variables).
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// Most bytes the substitutions of one file may produce together.
pub const MAX_FILE_OUTPUT: usize = 16 * 1024 * 1024;

/// How a literal dollar sign is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dollar {
    /// `$$` is a literal `$` (compose).
    Doubled,
    /// The escape character before `$` makes it literal (Dockerfile).
    Escaped(char),
}

/// A bound a substitution went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Substitutions nested more than [`MAX_DEPTH`] levels deep.
    Depth,
    /// The result would be longer than [`MAX_OUTPUT`] bytes.
    Output,
    /// The file's substitutions together would produce more than [`MAX_FILE_OUTPUT`] bytes.
    File,
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Depth => write!(f, "variables are nested more than {MAX_DEPTH} levels deep"),
            Bound::Output => {
                write!(f, "substituting its variables makes it longer than {MAX_OUTPUT} bytes")
            }
            Bound::File => write!(
                f,
                "substituting the variables of this file makes more than {MAX_FILE_OUTPUT} bytes \
                 of values; this one and the ones after it are kept as written"
            ),
        }
    }
}

/// The result of one substitution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Substituted {
    /// The text with every variable replaced (the text as written when `over` is set).
    pub text: String,
    /// Variables that were used but not set (and had no default).
    pub unset: Vec<String>,
    /// `${VAR:?message}` failures, as `VAR: message`.
    pub errors: Vec<String>,
    /// The bound the substitution went over; the text is then left as written.
    pub over: Option<Bound>,
}

/// Replaces variables in `text`; `lookup` gives a variable's value when it is set. An unset
/// variable without a default becomes empty, as Docker does.
pub fn substitute(
    text: &str,
    dollar: Dollar,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Substituted {
    Run::new(text, dollar, lookup, false, MAX_OUTPUT).finish().0
}

/// [`substitute`], but an unset variable without a default is kept as written (`$PATH`,
/// `${HOST_IP}`): a value that needs the environment of whoever runs compose says so, rather
/// than becoming empty.
pub fn substitute_keeping_unset(
    text: &str,
    dollar: Dollar,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Substituted {
    Run::new(text, dollar, lookup, true, MAX_OUTPUT).finish().0
}

/// The substitutions of one file, sharing [`MAX_FILE_OUTPUT`].
#[derive(Debug)]
pub struct FileSubstitution {
    /// Bytes the file's substitutions may still produce.
    left: usize,
}

impl Default for FileSubstitution {
    fn default() -> Self {
        FileSubstitution { left: MAX_FILE_OUTPUT }
    }
}

impl FileSubstitution {
    /// [`substitute`] (or [`substitute_keeping_unset`] with `keep_unset`) within what the file
    /// may still produce.
    pub fn substitute(
        &mut self,
        text: &str,
        dollar: Dollar,
        lookup: &dyn Fn(&str) -> Option<String>,
        keep_unset: bool,
    ) -> Substituted {
        let limit = MAX_OUTPUT.min(self.left);
        let (mut done, produced) = Run::new(text, dollar, lookup, keep_unset, limit).finish();
        match done.over {
            Some(Bound::Output) if limit < MAX_OUTPUT => {
                done.over = Some(Bound::File);
                self.left = 0;
            }
            _ => self.left = self.left.saturating_sub(produced),
        }
        done
    }
}

/// One substitution under way, over byte ranges of the text as written.
struct Run<'a> {
    text: &'a str,
    /// Each `{` that has a closing `}`, with that `}`: byte offsets, in text order.
    closers: Vec<(usize, usize)>,
    dollar: Dollar,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    keep_unset: bool,
    unset: Vec<String>,
    errors: Vec<String>,
    /// Bytes produced so far, against `limit`.
    produced: usize,
    /// Most bytes this substitution may produce.
    limit: usize,
}

impl<'a> Run<'a> {
    fn new(
        text: &'a str,
        dollar: Dollar,
        lookup: &'a dyn Fn(&str) -> Option<String>,
        keep_unset: bool,
        limit: usize,
    ) -> Self {
        Run {
            text,
            closers: closers(text),
            dollar,
            lookup,
            keep_unset,
            unset: Vec::new(),
            errors: Vec::new(),
            produced: 0,
            limit,
        }
    }

    /// The result, and the bytes it took.
    fn finish(mut self) -> (Substituted, usize) {
        let mut out = String::with_capacity(self.text.len().min(self.limit));
        let done = match self.expand(0..self.text.len(), 0, &mut out) {
            Ok(()) => Substituted { text: out, unset: self.unset, errors: self.errors, over: None },
            Err(bound) => Substituted {
                text: self.text.to_string(),
                unset: Vec::new(),
                errors: Vec::new(),
                over: Some(bound),
            },
        };
        (done, self.produced)
    }

    /// Appends `piece` to `out`, within the output bound.
    fn emit(&mut self, out: &mut String, piece: &str) -> Result<(), Bound> {
        self.spend(piece.len())?;
        out.push_str(piece);
        Ok(())
    }

    fn spend(&mut self, bytes: usize) -> Result<(), Bound> {
        self.produced = self.produced.saturating_add(bytes);
        if self.produced > self.limit {
            return Err(Bound::Output);
        }
        Ok(())
    }

    fn note_unset(&mut self, name: &str) -> Result<(), Bound> {
        self.spend(name.len())?;
        self.unset.push(name.to_string());
        Ok(())
    }

    /// The `}` closing the `{` at byte `open`, when there is one.
    fn closing(&self, open: usize) -> Option<usize> {
        let i = self.closers.binary_search_by_key(&open, |(o, _)| *o).ok()?;
        Some(self.closers[i].1)
    }

    /// Substitutes the variables of `text[range]` into `out`; `depth` is how many `${` the
    /// range is inside.
    fn expand(&mut self, range: Range<usize>, depth: usize, out: &mut String) -> Result<(), Bound> {
        let text = self.text;
        let end = range.end;
        let mut i = range.start;
        // Start of the literal text not yet copied to `out`.
        let mut plain = i;
        while i < end {
            let Some(c) = text[i..end].chars().next() else { break };
            if let Dollar::Escaped(escape) = self.dollar {
                let after = i + escape.len_utf8();
                if c == escape && after < end && text.as_bytes()[after] == b'$' {
                    self.emit(out, &text[plain..i])?;
                    self.emit(out, "$")?;
                    i = after + 1;
                    plain = i;
                    continue;
                }
            }
            if c != '$' {
                i += c.len_utf8();
                continue;
            }
            self.emit(out, &text[plain..i])?;
            let next = text.as_bytes().get(i + 1).copied().filter(|_| i + 1 < end);
            match next {
                Some(b'$') if self.dollar == Dollar::Doubled => {
                    self.emit(out, "$")?;
                    i += 2;
                }
                Some(b'{') => match self.closing(i + 1).filter(|close| *close < end) {
                    Some(close) => {
                        self.braced(i + 2..close, depth + 1, out)?;
                        i = close + 1;
                    }
                    None => {
                        // An unclosed `${` is kept as written; the caller's file is malformed
                        // but the rest of the value is still useful.
                        self.emit(out, &text[i..end])?;
                        i = end;
                    }
                },
                Some(b) if b.is_ascii_alphabetic() || b == b'_' => {
                    let start = i + 1;
                    let name_end = text[start..end]
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(end, |n| start + n);
                    let name = &text[start..name_end];
                    match (self.lookup)(name) {
                        Some(value) => self.emit(out, &value)?,
                        None => {
                            if self.keep_unset {
                                self.emit(out, &text[i..name_end])?;
                            }
                            self.note_unset(name)?;
                        }
                    }
                    i = name_end;
                }
                _ => {
                    self.emit(out, "$")?;
                    i += 1;
                }
            }
            plain = i;
        }
        self.emit(out, &text[plain..i.min(end)])
    }

    /// Substitutes one `${...}` whose content is `text[inner]`.
    fn braced(&mut self, inner: Range<usize>, depth: usize, out: &mut String) -> Result<(), Bound> {
        if depth > MAX_DEPTH {
            return Err(Bound::Depth);
        }
        let text = self.text;
        let content = &text[inner.clone()];
        let name_len = content
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(content.len());
        let name = &content[..name_len];
        let rest = &content[name_len..];
        let value = (self.lookup)(name);
        let operator = [":-", ":+", ":?", "-", "+", "?"]
            .into_iter()
            .find(|op| rest.starts_with(op))
            .unwrap_or("");
        let word = inner.start + name_len + operator.len()..inner.end;
        let empty_is_unset = operator.starts_with(':');
        let is_set = match &value {
            Some(v) => !(empty_is_unset && v.is_empty()),
            None => false,
        };
        match operator {
            ":-" | "-" if is_set => self.emit(out, value.as_deref().unwrap_or_default()),
            ":-" | "-" => self.expand(word, depth, out),
            ":+" | "+" if is_set => self.expand(word, depth, out),
            ":+" | "+" => Ok(()),
            ":?" | "?" if is_set => self.emit(out, value.as_deref().unwrap_or_default()),
            ":?" | "?" => {
                let mut message = String::new();
                self.expand(word, depth, &mut message)?;
                self.spend(name.len() + 2)?;
                self.errors.push(format!("{name}: {message}"));
                Ok(())
            }
            _ => match value {
                Some(v) => self.emit(out, &v),
                None => {
                    self.note_unset(name)?;
                    if self.keep_unset {
                        self.emit(out, &text[inner.start - 2..inner.end + 1])?;
                    }
                    Ok(())
                }
            },
        }
    }
}

/// Each `{` of `text` that a `}` closes, paired with it, in one pass: braces nest, whether or
/// not a `$` comes before them, as they do for the `}` that ends a `${`.
fn closers(text: &str) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut open = Vec::new();
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'{' => open.push(i),
            b'}' => {
                if let Some(start) = open.pop() {
                    pairs.push((start, i));
                }
            }
            _ => {}
        }
    }
    pairs.sort_unstable();
    pairs
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

    /// `${A:-` `levels` times, then `x`, then `}` as many times.
    fn nested(levels: usize) -> String {
        format!("{}x{}", "${A:-".repeat(levels), "}".repeat(levels))
    }

    #[test]
    fn nesting_up_to_the_bound_is_substituted() {
        let got = substitute(&nested(MAX_DEPTH), Dollar::Doubled, &vars);
        assert_eq!((got.text.as_str(), got.over), ("x", None));
        let got = substitute_keeping_unset(&nested(MAX_DEPTH), Dollar::Doubled, &vars);
        assert_eq!((got.text.as_str(), got.over), ("x", None));
    }

    #[test]
    fn nesting_past_the_bound_is_left_as_written() {
        // Issue 13: 20,000 levels (100 KB) took 7 GB and 35 s; 50,000 more than 22 GB.
        for levels in [MAX_DEPTH + 1, 20_000, 50_000] {
            let text = nested(levels);
            for got in [
                substitute(&text, Dollar::Doubled, &vars),
                substitute_keeping_unset(&text, Dollar::Doubled, &vars),
                substitute(&text, Dollar::Escaped('\\'), &vars),
            ] {
                assert_eq!(got.over, Some(Bound::Depth), "{levels} levels");
                assert!(got.text == text, "{levels} levels: the value is not as written");
                assert!(got.unset.is_empty() && got.errors.is_empty());
            }
        }
    }

    #[test]
    fn a_value_set_at_the_top_never_reads_its_deep_default() {
        // The default is not substituted when the variable is set, so its depth costs nothing.
        let text = format!("${{PORT:-{}}}", nested(20_000));
        let got = substitute(&text, Dollar::Doubled, &vars);
        assert_eq!((got.text.as_str(), got.over), ("8080", None));
    }

    #[test]
    fn output_past_the_bound_is_left_as_written() {
        let big = "v".repeat(100_000);
        let lookup = |name: &str| (name == "BIG").then(|| big.clone());
        let fits = "$BIG ".repeat(MAX_OUTPUT / 100_001);
        let got = substitute(&fits, Dollar::Doubled, &lookup);
        assert_eq!(got.over, None);
        assert_eq!(got.text.len(), fits.len() / 5 * 100_001);
        let text = "${BIG}".repeat(11);
        for got in [
            substitute(&text, Dollar::Doubled, &lookup),
            substitute_keeping_unset(&text, Dollar::Doubled, &lookup),
        ] {
            assert_eq!((got.text.as_str(), got.over), (text.as_str(), Some(Bound::Output)));
        }
        // Error messages count too: they become notes.
        let errors = format!("${{X:?{}}}", "$BIG".repeat(11));
        assert_eq!(substitute(&errors, Dollar::Doubled, &lookup).over, Some(Bound::Output));
    }

    #[test]
    fn braces_pair_across_literal_braces_and_text_outside_ascii() {
        let cases = [
            ("${MISSING:-{a}}", "{a}"),
            ("${MISSING:-{${HOST}}}", "{db}"),
            ("é${PORT}ü$PORTé", "é8080ü8080é"),
            ("}${PORT}{", "}8080{"),
            ("${MISSING:-${HOST}", "${MISSING:-${HOST}"),
            ("$", "$"),
            ("${}", ""),
        ];
        for (input, expected) in cases {
            let got = substitute(input, Dollar::Doubled, &vars);
            assert_eq!(got.text, expected, "{input}");
        }
        let got = substitute("`$PORT é`", Dollar::Escaped('`'), &vars);
        assert_eq!(got.text, "$PORT é`");
    }

    #[test]
    fn the_substitutions_of_one_file_share_a_bound() {
        let big = "v".repeat(100_000);
        let lookup = |name: &str| (name == "BIG").then(|| big.clone());
        // 1 MB from 60 bytes, again and again: 16 of them fill the file's bound.
        let value = "${BIG}".repeat(10);
        let mut file = FileSubstitution::default();
        let mut over = Vec::new();
        for _ in 0..20 {
            let done = file.substitute(&value, Dollar::Doubled, &lookup, false);
            over.push(done.over);
            if done.over.is_some() {
                assert!(done.text == value, "a value over the bound is kept as written");
            }
        }
        let kept = over.iter().filter(|o| o.is_none()).count();
        assert_eq!(kept, MAX_FILE_OUTPUT / 1_000_000);
        assert!(over[kept..].iter().all(|o| *o == Some(Bound::File)), "{over:?}");
    }
}
