//! The analyzer's own patterns: [`Pattern`], one regular expression read as ASCII and searched
//! by the engine that costs least for how much text it has been given.
//!
//! A small repository gives each pattern a few kilobytes of text at most, and compiling a
//! pattern for the `regex` crate's automata (0.1–0.2 ms each, two milliseconds for the dozen a
//! three-service compose app needs) costs more than the whole search. So a pattern first
//! searches with `regex_lite` (compiled in microseconds, searching some 40 ns a byte), and once
//! it has been given [`LITE_BYTES`] of text it compiles for `regex` and keeps to it (well under
//! a nanosecond a byte): a small repository never pays the compile, a large one pays it once
//! and at most the budget's worth of slow search before it.
//!
//! Both engines read the same text of the pattern the same way: `\w`, `\d`, `\s` and `\b` are
//! ASCII ([`ascii_classes`]), which is how code and configuration write names, numbers, spaces
//! and words, and what `regex_lite` knows. Debug builds (every test run) search every text with
//! both engines and stop on the first difference, so the answers cannot depend on which engine
//! a text happened to meet.

use std::borrow::Cow;
use std::ops::{Index, Range};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// How much text a pattern searches with `regex_lite` before it compiles for `regex`: about
/// the text `regex_lite` searches in the time `regex` takes to compile a pattern.
pub(crate) const LITE_BYTES: usize = 4 * 1024;

/// One of the analyzer's own patterns. They are constants of the source, not input, and every
/// one is exercised by a unit test, so a bad one fails the tests, not a user's run.
pub(crate) struct Pattern {
    /// The pattern as both engines compile it (after [`ascii_classes`]).
    source: String,
    lite: OnceLock<regex_lite::Regex>,
    full: OnceLock<regex::Regex>,
    /// Bytes given to searches so far: past [`LITE_BYTES`], every search uses `regex`.
    searched: AtomicUsize,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

/// The engine a search runs on.
enum Engine<'p> {
    Lite(&'p regex_lite::Regex),
    Full(&'p regex::Regex),
}

impl Pattern {
    /// The pattern `pattern` names, read as ASCII. Compiles the quick engine at once, so a
    /// pattern that does not parse fails where it is made.
    pub(crate) fn new(pattern: &str) -> Pattern {
        // `regex_lite` folds case in ASCII only, `regex` in Unicode (`K` also matches the
        // Kelvin sign): a case-insensitive pattern could answer differently by engine. Write
        // the pattern in lowercase and search the text in lowercase instead (see `hosts`).
        debug_assert!(!pattern.contains("(?i"), "case-insensitive built-in pattern {pattern}");
        let pattern = Pattern {
            source: ascii_classes(pattern),
            lite: OnceLock::new(),
            full: OnceLock::new(),
            searched: AtomicUsize::new(0),
        };
        pattern.lite();
        pattern
    }

    fn lite(&self) -> &regex_lite::Regex {
        self.lite.get_or_init(|| {
            regex_lite::Regex::new(&self.source)
                .unwrap_or_else(|e| panic!("bad built-in pattern {}: {e}", self.source))
        })
    }

    fn full(&self) -> &regex::Regex {
        self.full.get_or_init(|| {
            regex::Regex::new(&self.source)
                .unwrap_or_else(|e| panic!("bad built-in pattern {}: {e}", self.source))
        })
    }

    /// Compiles the pattern for both engines, so that a test fails on a pattern one of them
    /// refuses instead of a user's run (a run compiles `regex`'s only past the budget).
    #[cfg(test)]
    pub(crate) fn compile_both(&self) {
        self.lite();
        self.full();
    }

    /// The engine for a search of `text`, counting the text against the budget.
    fn engine(&self, text: &str) -> Engine<'_> {
        #[cfg(debug_assertions)]
        self.engines_agree(text);
        let before = self.searched.fetch_add(text.len(), Ordering::Relaxed);
        match before.saturating_add(text.len()) <= LITE_BYTES {
            true => Engine::Lite(self.lite()),
            false => Engine::Full(self.full()),
        }
    }

    /// Whether the budget is spent: every search from now on uses `regex`.
    #[cfg(test)]
    fn promoted(&self) -> bool {
        self.searched.load(Ordering::Relaxed) > LITE_BYTES
    }

    /// Whether the pattern matches somewhere in `text`.
    pub(crate) fn is_match(&self, text: &str) -> bool {
        match self.engine(text) {
            Engine::Lite(re) => re.is_match(text),
            Engine::Full(re) => re.is_match(text),
        }
    }

    /// The first match in `text`.
    pub(crate) fn find<'h>(&self, text: &'h str) -> Option<Found<'h>> {
        match self.engine(text) {
            Engine::Lite(re) => re.find(text).map(|m| Found::at(m.as_str(), m.start())),
            Engine::Full(re) => re.find(text).map(|m| Found::at(m.as_str(), m.start())),
        }
    }

    /// Every match in `text`, in order, none overlapping.
    pub(crate) fn find_iter<'h>(&self, text: &'h str) -> std::vec::IntoIter<Found<'h>> {
        let found: Vec<Found<'h>> = match self.engine(text) {
            Engine::Lite(re) => {
                re.find_iter(text).map(|m| Found::at(m.as_str(), m.start())).collect()
            }
            Engine::Full(re) => {
                re.find_iter(text).map(|m| Found::at(m.as_str(), m.start())).collect()
            }
        };
        found.into_iter()
    }

    /// The groups of the first match in `text`.
    pub(crate) fn captures<'h>(&self, text: &'h str) -> Option<Caps<'h>> {
        match self.engine(text) {
            Engine::Lite(re) => re.captures(text).map(Caps::Lite),
            Engine::Full(re) => re.captures(text).map(Caps::Full),
        }
    }

    /// The groups of every match in `text`, in order.
    pub(crate) fn captures_iter<'h>(&self, text: &'h str) -> std::vec::IntoIter<Caps<'h>> {
        let all: Vec<Caps<'h>> = match self.engine(text) {
            Engine::Lite(re) => re.captures_iter(text).map(Caps::Lite).collect(),
            Engine::Full(re) => re.captures_iter(text).map(Caps::Full).collect(),
        };
        all.into_iter()
    }

    /// `text` with every match replaced by what `with` makes of its groups.
    pub(crate) fn replace_all<'h>(
        &self,
        text: &'h str,
        mut with: impl FnMut(&Caps<'_>) -> String,
    ) -> Cow<'h, str> {
        let all = self.captures_iter(text);
        if all.len() == 0 {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for caps in all {
            let Some(whole) = caps.get(0) else { continue };
            out.push_str(&text[last..whole.start()]);
            out.push_str(&with(&caps));
            last = whole.end();
        }
        out.push_str(&text[last..]);
        Cow::Owned(out)
    }

    /// Panics when the two engines find different groups in `text` (debug builds only).
    #[cfg(debug_assertions)]
    fn engines_agree(&self, text: &str) {
        let lite: Vec<Vec<Option<Range<usize>>>> = (self.lite().captures_iter(text))
            .map(|caps| caps.iter().map(|m| m.map(|m| m.range())).collect())
            .collect();
        let full: Vec<Vec<Option<Range<usize>>>> = (self.full().captures_iter(text))
            .map(|caps| caps.iter().map(|m| m.map(|m| m.range())).collect())
            .collect();
        assert_eq!(lite, full, "the engines differ on pattern {} over {text:?}", self.source);
    }
}

/// A match: where it is in the text searched, and its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found<'h> {
    text: &'h str,
    start: usize,
    end: usize,
}

impl<'h> Found<'h> {
    /// The match `text` that starts at `start` in the text searched.
    fn at(text: &'h str, start: usize) -> Found<'h> {
        Found { text, start, end: start + text.len() }
    }

    /// The text matched.
    pub(crate) fn as_str(&self) -> &'h str {
        self.text
    }

    /// Where the match starts in the text searched (a byte offset).
    pub(crate) fn start(&self) -> usize {
        self.start
    }

    /// Where the match ends in the text searched (a byte offset, exclusive).
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// The match's byte range in the text searched.
    pub(crate) fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// The groups of one match, from whichever engine found it.
pub(crate) enum Caps<'h> {
    Lite(regex_lite::Captures<'h>),
    Full(regex::Captures<'h>),
}

impl<'h> Caps<'h> {
    /// Group `i` (0 is the whole match), when it took part in the match.
    pub(crate) fn get(&self, i: usize) -> Option<Found<'h>> {
        match self {
            Caps::Lite(c) => c.get(i).map(|m| Found::at(m.as_str(), m.start())),
            Caps::Full(c) => c.get(i).map(|m| Found::at(m.as_str(), m.start())),
        }
    }

    /// The group named `name`, when it took part in the match.
    pub(crate) fn name(&self, name: &str) -> Option<Found<'h>> {
        match self {
            Caps::Lite(c) => c.name(name).map(|m| Found::at(m.as_str(), m.start())),
            Caps::Full(c) => c.name(name).map(|m| Found::at(m.as_str(), m.start())),
        }
    }
}

impl Index<usize> for Caps<'_> {
    type Output = str;

    /// The text of group `i`; panics when the group took no part in the match, as `regex`'s
    /// captures do.
    fn index(&self, i: usize) -> &str {
        match self {
            Caps::Lite(c) => &c[i],
            Caps::Full(c) => &c[i],
        }
    }
}

impl Index<&str> for Caps<'_> {
    type Output = str;

    /// The text of the group named `name`; panics when it took no part in the match.
    fn index(&self, name: &str) -> &str {
        match self {
            Caps::Lite(c) => &c[name],
            Caps::Full(c) => &c[name],
        }
    }
}

/// `pattern` read as ASCII: `\w`, `\d` and `\s` written as their ASCII classes
/// (`[A-Za-z0-9_]`, `[0-9]`, `[\t-\r ]`, or the ranges alone inside a class), `\S` outside a
/// class as `[^\t-\r ]`, and `\b`/`\B` as ASCII word boundaries (`(?-u:\b)`); every other
/// escape as it is. Unicode's classes are what compiling costs (a third of a millisecond for
/// one `\w`), for names, numbers and spaces that code writes in ASCII; and ASCII is what
/// `regex_lite` reads, so both engines agree.
pub(crate) fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ascii = match escaped {
                    'w' => Some("A-Za-z0-9_"),
                    'd' => Some("0-9"),
                    's' => Some(r"\t-\r "),
                    _ => None,
                };
                match (ascii, escaped, in_class) {
                    (Some(ranges), _, true) => out.push_str(ranges),
                    (Some(ranges), _, false) => {
                        out.push('[');
                        out.push_str(ranges);
                        out.push(']');
                    }
                    (None, 'S', false) => out.push_str(r"[^\t-\r ]"),
                    (None, 'b', false) => out.push_str(r"(?-u:\b)"),
                    (None, 'B', false) => out.push_str(r"(?-u:\B)"),
                    _ => {
                        out.push(c);
                        out.push(escaped);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` first in a class (after a `^`) is the character itself.
                if chars.peek() == Some(&'^') {
                    out.extend(chars.next());
                }
                if chars.peek() == Some(&']') {
                    out.extend(chars.next());
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_moves_to_the_compiled_engine_once_its_budget_is_searched() {
        let pattern = Pattern::new(r"\bport\s*=\s*(\d+)");
        let small = "port = 8080";
        assert_eq!(pattern.captures(small).map(|c| c[1].to_string()), Some("8080".into()));
        assert!(!pattern.promoted());
        // A text over the budget goes to `regex`, and so does every later one.
        let large = format!("{}\nport = 9090", "# filler\n".repeat(LITE_BYTES / 8));
        let found: Vec<String> = pattern.captures_iter(&large).map(|c| c[1].to_string()).collect();
        assert_eq!(found, ["9090"]);
        assert!(pattern.promoted());
        assert_eq!(pattern.find(small).map(|m| m.range()), Some(0..11));
    }

    #[test]
    fn both_engines_read_words_and_classes_as_ascii() {
        let pattern = Pattern::new(r"\bhost\b\s*(\w+)");
        // `é` is no ASCII word character: a boundary stands before `host`.
        let text = "éhost  dé";
        let lite: Vec<_> =
            pattern.lite().captures_iter(text).map(|c| c.get(1).map(|m| m.range())).collect();
        let full: Vec<_> =
            pattern.full().captures_iter(text).map(|c| c.get(1).map(|m| m.range())).collect();
        assert_eq!(lite, full);
        assert_eq!(lite, [Some(8..9)]);
    }

    #[test]
    fn built_in_patterns_read_code_as_ascii() {
        assert_eq!(ascii_classes(r"\w+\s*=\s*\d"), r"[A-Za-z0-9_]+[\t-\r ]*=[\t-\r ]*[0-9]");
        // Inside a class, the ranges alone; `\S` only outside one.
        assert_eq!(ascii_classes(r"[\w.\-]+\S*[^@\s/]"), r"[A-Za-z0-9_.\-]+[^\t-\r ]*[^@\t-\r /]");
        // Word boundaries are ASCII ones; other escapes, an escaped backslash, and a `]`
        // first in a class stay as they are.
        assert_eq!(
            ascii_classes(r"\bx\.\\d[]\w][^]\d]\p{L}\B"),
            r"(?-u:\b)x\.\\d[]A-Za-z0-9_][^]0-9]\p{L}(?-u:\B)"
        );
        let port = Pattern::new(r"\.listen\(\s*(?:[\w.]+\s*(?:\|\||\?\?)\s*)?(?P<port>\d{2,5})\b");
        assert_eq!(&port.captures("app.listen( PORT || 8080)").unwrap()["port"], "8080");
        // Unicode letters are not word characters in code: a name stops before them.
        assert_eq!(Pattern::new(r"\w+").find("naïve").map(|m| m.as_str()), Some("na"));
    }

    #[test]
    fn replace_all_keeps_the_text_between_matches() {
        let pattern = Pattern::new(r"(\d+)");
        assert_eq!(pattern.replace_all("a1b22c", |c| format!("<{}>", &c[1])), "a<1>b<22>c");
        assert!(matches!(pattern.replace_all("none", |_| String::new()), Cow::Borrowed("none")));
        let empty = Pattern::new(r"x*");
        // Empty matches are replaced where they stand, as `regex` does.
        assert_eq!(empty.replace_all("ab", |_| "-".into()), "-a-b-");
    }
}
