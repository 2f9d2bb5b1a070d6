//! Reading answers out of comments (pure): a reply's lines, and the status comment's checkboxes.
//!
//! Only prose counts: code blocks, quotes and inline code are stripped the way slash commands
//! are ([`crate::command`]), so quoting the status comment or an earlier answer never answers
//! again. A reply may mix these forms, one per line:
//!
//! | form | example |
//! |---|---|
//! | by number | `1: ghcr.io/acme/api:1.4`, `1. ghcr.io/acme/api:1.4`, `1) 512` |
//! | by key | `image.api = ghcr.io/acme/api:1.4`, `memory.api: 512` |
//! | command | `/nomad-spec set memory.api=512`, `/nomad-spec accept` |
//!
//! Every value goes through [`Answers::set`], so what is valid is the spec engine's decision.
//! A line that looks like an answer but cannot be used comes back as
//! [`LineResult::NotUnderstood`] with the reason and an example of the right form, so the bot
//! can reply specifically; prose that does not look like an answer ("thanks!") is left alone.
//! Which answers are recorded, and who may give them, is [`super::state`]'s business.

use std::sync::OnceLock;

use regex::Regex;

use super::checkpoint::TrackedQuestion;
use crate::command::{self, Command, PREFIX};
use crate::jobspec::answers::{AnswerError, Answers};

/// What one line of a comment meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineResult {
    /// A valid answer.
    Applied {
        /// The answer key (`image.api`).
        key: String,
        /// The value, as given.
        value: String,
    },
    /// A slash command other than `set` (whose pairs come back as `Applied`).
    Command(Command),
    /// The line tries to answer or command, but cannot be used.
    NotUnderstood {
        /// The line as the reader saw it.
        line: String,
        /// What is wrong.
        why: String,
        /// A line of the right form.
        example: String,
    },
}

/// Everything read from one comment, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// One entry per answer, command or misunderstood line.
    pub lines: Vec<LineResult>,
}

impl Reading {
    /// The valid `(key, value)` answers, in order.
    pub fn applied(&self) -> Vec<(String, String)> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                LineResult::Applied { key, value } => Some((key.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    /// The commands, in order.
    pub fn commands(&self) -> Vec<Command> {
        self.lines
            .iter()
            .filter_map(|l| match l {
                LineResult::Command(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    /// The lines that could not be used.
    pub fn not_understood(&self) -> impl Iterator<Item = &LineResult> {
        self.lines.iter().filter(|l| matches!(l, LineResult::NotUnderstood { .. }))
    }

    /// The comment neither answers nor commands anything.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// A Markdown reply listing what was not understood, or `None` when all was.
    pub fn not_understood_markdown(&self) -> Option<String> {
        let mut out = String::new();
        for line in self.not_understood() {
            if let LineResult::NotUnderstood { line, why, example } = line {
                out.push_str(&format!(
                    "- {}: {}. For example: {}\n",
                    crate::markdown::code(line),
                    crate::markdown::escape(why),
                    crate::markdown::code(example),
                ));
            }
        }
        (!out.is_empty()).then(|| format!("I could not use these lines:\n\n{out}"))
    }
}

/// `1. value` and `1) value` are Markdown list items, whose numbers a parser drops; they are
/// rewritten to `1: value` first so the number survives.
fn numbered_item() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?m)^([ \t]{0,3})(\d{1,3})[.)]([ \t]+)").unwrap_or_else(|_| unreachable!())
    })
}

/// `N: value`.
fn by_number() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^(\d{1,3})\s*:\s*(.*)$").unwrap_or_else(|_| unreachable!()))
}

/// `KEY = value` or `KEY: value`.
fn by_key() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^([A-Za-z_][A-Za-z0-9_./-]*)\s*[:=]\s*(.*)$")
            .unwrap_or_else(|_| unreachable!())
    })
}

/// `[x] KEY ...` (a task-list item, without its bullet).
fn checkbox() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\[([ xX])\]\s+(\S+)").unwrap_or_else(|_| unreachable!()))
}

/// Keys of the `KEY=VALUE` grammar that have no dot.
const PLAIN_KEYS: [&str; 4] = ["job", "datacenters", "namespace", "node_pool"];

/// The first part of every dotted key of the `KEY=VALUE` grammar: a line starting with one of
/// these is an answer attempt, any other `word.word: text` is prose ("docs.rs: see there").
pub const KEY_KINDS: [&str; 15] = [
    "deploy",
    "image",
    "count",
    "cpu",
    "memory",
    "memory_max",
    "class",
    "hostname",
    "route_port",
    "static_port",
    "volume",
    "owner",
    "endpoint",
    "env",
    "secret",
];

/// Longest answer value read; the checkpoint keeps every answer, and it must fit in a comment.
pub const LONGEST_ANSWER: usize = 1_000;

/// Marks inline code in [`command::visible_lines`] output.
const INLINE_CODE: char = '\u{1}';

/// Reads a reply: answers by number or key, and slash commands.
pub fn read_reply(body: &str, questions: &[TrackedQuestion]) -> Reading {
    let body = numbered_item().replace_all(body, "$1$2:$3");
    let mut commands = command::parse_commands(&body).into_iter();
    let mut reading = Reading::default();
    for line in command::visible_lines(&body) {
        let line = line.trim();
        if is_command_line(line) {
            // `parse_commands` saw the same visible lines, so its results come in this order.
            let Some(parsed) = commands.next() else { continue };
            read_command(line, parsed, questions, &mut reading);
        } else if let Some(result) = read_answer_line(line, questions) {
            reading.lines.push(result);
        }
    }
    reading
}

/// Reads the yes/no checkboxes of an edited status comment: ticked is `true`, not ticked
/// `false`. Only boxes of yes/no questions count.
pub fn read_checkboxes(body: &str, questions: &[TrackedQuestion]) -> Reading {
    let mut reading = Reading::default();
    for line in command::visible_lines(body) {
        let Some(caps) = checkbox().captures(line.trim()) else { continue };
        let key = caps[2].trim_end_matches(['.', ':']);
        if questions.iter().any(|q| q.key == key && q.is_yes_no()) {
            let value = if &caps[1] == " " { "false" } else { "true" };
            reading.lines.push(LineResult::Applied { key: key.to_string(), value: value.into() });
        }
    }
    reading
}

fn is_command_line(line: &str) -> bool {
    line.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

fn read_command(
    line: &str,
    parsed: Result<Command, command::ParseError>,
    questions: &[TrackedQuestion],
    reading: &mut Reading,
) {
    match parsed {
        Ok(Command::Set { pairs }) => {
            for (key, value) in pairs {
                reading.lines.push(check_answer(line, &key, &value, questions));
            }
        }
        Ok(command) => reading.lines.push(LineResult::Command(command)),
        Err(err) => reading.lines.push(LineResult::NotUnderstood {
            line: line.to_string(),
            why: err.to_string(),
            example: format!("{PREFIX} help"),
        }),
    }
}

/// One prose line: an answer, a misunderstood answer, or `None` for plain prose.
fn read_answer_line(line: &str, questions: &[TrackedQuestion]) -> Option<LineResult> {
    if let Some(caps) = by_number().captures(line) {
        let value = caps[2].trim();
        let number: usize = caps[1].parse().unwrap_or(0);
        let Some(question) = number.checked_sub(1).and_then(|i| questions.get(i)) else {
            let why = match questions.len() {
                0 => format!("there is no question {number}: nothing is being asked"),
                n => format!("there is no question {number} (the questions are numbered 1 to {n})"),
            };
            return Some(not_understood(line, why, example(questions, None)));
        };
        return Some(check_answer(line, &question.key, value, questions));
    }
    let caps = by_key().captures(line)?;
    let key = &caps[1];
    let known = questions.iter().any(|q| q.key == key) || PLAIN_KEYS.contains(&key);
    let kind = key.split_once('.').map_or(key, |(kind, _)| kind);
    let looks_like_key = KEY_KINDS.contains(&kind);
    if !known && !looks_like_key {
        return None;
    }
    Some(check_answer(line, key, caps[2].trim(), questions))
}

/// Validates one answer through `Answers::set`.
fn check_answer(line: &str, key: &str, value: &str, questions: &[TrackedQuestion]) -> LineResult {
    if value.contains(INLINE_CODE) {
        let why = "a value in backticks reads as an example; write it without backticks".into();
        return not_understood(line, why, example(questions, Some(key)));
    }
    if value.is_empty() {
        return not_understood(
            line,
            format!("no value given for `{key}`"),
            example(questions, Some(key)),
        );
    }
    if value.chars().count() > LONGEST_ANSWER {
        let why = format!("the value is longer than {LONGEST_ANSWER} characters");
        return not_understood(line, why, example(questions, Some(key)));
    }
    match Answers::default().set(&format!("{key}={value}")) {
        Ok(()) => LineResult::Applied { key: key.to_string(), value: value.to_string() },
        Err(AnswerError::UnknownKey(_)) => not_understood(
            line,
            format!("`{key}` is neither a question here nor an answer key"),
            example(questions, None),
        ),
        Err(err) => not_understood(line, err.to_string(), example(questions, Some(key))),
    }
}

fn not_understood(line: &str, why: String, example: String) -> LineResult {
    LineResult::NotUnderstood { line: line.replace(INLINE_CODE, "`…`"), why, example }
}

/// An answer line of the right form: for `key` when it is asked, else for the first question.
fn example(questions: &[TrackedQuestion], key: Option<&str>) -> String {
    let asked = key.and_then(|k| questions.iter().position(|q| q.key == k));
    match (asked, key) {
        (Some(i), _) => format!("{}: {}", i + 1, questions[i].default),
        (None, Some(key)) => format!("{key} = VALUE"),
        (None, None) => match questions.first() {
            Some(q) => format!("1: {}", q.default),
            None => format!("{PREFIX} set memory.api=512"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn questions() -> Vec<TrackedQuestion> {
        let q = |key: &str, default: &str| TrackedQuestion {
            key: key.into(),
            prompt: format!("{key}?"),
            default: default.into(),
            needs_answer: true,
            answer: None,
            answered_by: None,
            comment_id: None,
        };
        vec![
            q("image.api", "ghcr.io/acme/api:latest"),
            q("memory.api", "256"),
            q("deploy.db", "true"),
        ]
    }

    fn read(body: &str) -> String {
        let reading = read_reply(body, &questions());
        reading.lines.iter().map(|l| format!("{l:?}\n")).collect()
    }

    #[test]
    fn numbers_keys_and_commands() {
        insta::assert_snapshot!(read("1: ghcr.io/acme/api:1.4\n2. 512\n\n3) false"), @r#"
        Applied { key: "image.api", value: "ghcr.io/acme/api:1.4" }
        Applied { key: "memory.api", value: "512" }
        Applied { key: "deploy.db", value: "false" }
        "#);
        insta::assert_snapshot!(read("image.api = ghcr.io/acme/api\nmemory.api: 1024\nThanks, looks good!"), @r#"
        Applied { key: "image.api", value: "ghcr.io/acme/api" }
        Applied { key: "memory.api", value: "1024" }
        "#);
        insta::assert_snapshot!(read("/nomad-spec set memory.api=512 hostname.api=api.example.com\n/nomad-spec accept"), @r#"
        Applied { key: "memory.api", value: "512" }
        Applied { key: "hostname.api", value: "api.example.com" }
        Command(Accept)
        "#);
    }

    #[test]
    fn quotes_and_code_are_not_answers() {
        assert_eq!(read("> 1: old\n```\nmemory.api: 9\n/nomad-spec reset\n```\n"), "");
    }

    #[test]
    fn misunderstood_lines_say_why_with_an_example() {
        insta::assert_snapshot!(read("7: x\nmemory.api: lots\nimage.x.y = a b\n1: `ghcr.io/x`\n/nomad-spec frobnicate"), @r#"
        NotUnderstood { line: "7: x", why: "there is no question 7 (the questions are numbered 1 to 3)", example: "1: ghcr.io/acme/api:latest" }
        NotUnderstood { line: "memory.api: lots", why: "bad value for `memory.api`: expected a whole number, got `lots`", example: "2: 256" }
        NotUnderstood { line: "image.x.y = a b", why: "bad value for `image.x.y`: an image reference has no blanks, like `ghcr.io/acme/api:1.4`", example: "image.x.y = VALUE" }
        NotUnderstood { line: "1: `…`", why: "a value in backticks reads as an example; write it without backticks", example: "1: ghcr.io/acme/api:latest" }
        NotUnderstood { line: "/nomad-spec frobnicate", why: "unknown command `frobnicate`; `/nomad-spec help` lists the commands", example: "/nomad-spec help" }
        "#);
    }

    #[test]
    fn prose_that_looks_like_a_key_is_left_alone() {
        assert_eq!(read("docs.rs: see the page\nNote: later\n1.4 is out"), "");
        assert!(read("memory = 5").contains("neither a question here nor an answer key"));
    }

    #[test]
    fn answer_keys_outside_the_questions_count() {
        assert_eq!(
            read_reply("count.api = 3", &questions()).applied(),
            vec![("count.api".to_string(), "3".to_string())]
        );
    }

    #[test]
    fn checkboxes_of_yes_no_questions() {
        let body = "1. [ ] image.api — no box for this\n3. [x] deploy\\.db — deploy db?\n- [X] deploy.web\n";
        let reading = read_checkboxes(body, &questions());
        assert_eq!(reading.applied(), vec![("deploy.db".to_string(), "true".to_string())]);
        let reading = read_checkboxes("- [ ] deploy.db", &questions());
        assert_eq!(reading.applied(), vec![("deploy.db".to_string(), "false".to_string())]);
    }
}
