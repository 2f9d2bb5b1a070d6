//! Slash commands in pull-request comments: text in, typed commands out (pure).
//!
//! A command is a line that starts with `/nomad-spec`. Markdown is read first (pulldown-cmark)
//! and only the text a reader sees as prose counts: fenced and indented code blocks, inline
//! code, block quotes and link text are skipped, so a command quoted in a reply, or shown in
//! the bot's own help, never runs again. This module owns the grammar and its errors; what a
//! command does is the workflow's business.

use std::fmt;

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

/// The word that starts every command line.
pub const PREFIX: &str = "/nomad-spec";

/// One command a person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Show what the bot can do.
    Help,
    /// Regenerate the job file from scratch, taking ownership back from manual edits.
    Generate,
    /// Accept every proposed default for the open questions.
    Accept,
    /// Answer questions by key: `set image.api=ghcr.io/acme/api:1.4 memory.api=512`.
    Set {
        /// `(key, value)` pairs in the order given.
        pairs: Vec<(String, String)>,
    },
    /// Run a Nomad plan of the current job file and show it.
    Plan,
    /// Validate the current job file.
    Validate,
    /// Explain the job file (or the last plan) in plain words.
    Explain,
    /// Show the conversation and deployment state.
    Status,
    /// Diagnose the last failure and propose a fix commit.
    Fix,
    /// Revert the job to its last stable version on Nomad.
    Rollback,
    /// Forget the answers and start the conversation again.
    Reset,
    /// Put the job file's version of a job that drifted back on the cluster: `deploy web`.
    Deploy {
        /// The Nomad job's ID.
        job: String,
    },
    /// Write the cluster's version of a job that drifted into its file, as a change request:
    /// `adopt web`.
    Adopt {
        /// The Nomad job's ID.
        job: String,
    },
}

/// Why a command line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// `/nomad-spec` alone on a line.
    MissingCommand,
    /// A command word that does not exist.
    UnknownCommand(String),
    /// A command that takes no arguments was given some.
    UnexpectedArgument {
        /// The command.
        command: String,
        /// The first unexpected argument.
        argument: String,
    },
    /// `set` with nothing to set.
    MissingPairs,
    /// A `set` argument without `=`, or with an empty key.
    InvalidPair(String),
    /// The same key twice in one `set`.
    DuplicateKey(String),
    /// A quoted value that never ends.
    UnclosedQuote(String),
    /// `deploy` or `adopt` without the job it is about.
    MissingJob {
        /// The command.
        command: String,
    },
    /// A job ID Nomad would refuse (empty, with whitespace or a NUL, over 128 bytes).
    InvalidJob(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::MissingCommand => {
                write!(f, "`{PREFIX}` needs a command, for example `{PREFIX} help`")
            }
            ParseError::UnknownCommand(word) => {
                write!(f, "unknown command `{word}`; `{PREFIX} help` lists the commands")
            }
            ParseError::UnexpectedArgument { command, argument } => {
                write!(f, "`{command}` takes no arguments, but got `{argument}`")
            }
            ParseError::MissingPairs => {
                write!(f, "`set` needs at least one KEY=VALUE, for example `set memory.api=512`")
            }
            ParseError::InvalidPair(arg) => {
                write!(f, "`{arg}` is not KEY=VALUE, for example `set memory.api=512`")
            }
            ParseError::DuplicateKey(key) => write!(f, "`{key}` is set twice in one command"),
            ParseError::UnclosedQuote(arg) => {
                write!(f, "the quote in `{arg}` is never closed")
            }
            ParseError::MissingJob { command } => {
                write!(f, "`{command}` needs the job it is about, for example `{command} web`")
            }
            ParseError::InvalidJob(job) => write!(
                f,
                "`{job}` is not a Nomad job ID (one word of at most 128 bytes, no spaces)"
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Every command in a comment, in order; lines that are not commands are ignored.
pub fn parse_commands(text: &str) -> Vec<Result<Command, ParseError>> {
    visible_lines(text).iter().filter_map(|line| command_line(line)).map(parse_command).collect()
}

/// The arguments of a command line, or `None` when the line is no command.
///
/// Grammar: `line = ws* "/nomad-spec" (ws+ rest)? ws*`; `/nomad-specfoo` is not a command.
fn command_line(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix(PREFIX)?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest.trim())
    } else {
        None
    }
}

/// One command from the text after the prefix.
///
/// Grammar: `rest = word (ws+ argument)*`; words are case-insensitive.
fn parse_command(rest: &str) -> Result<Command, ParseError> {
    let words = split_arguments(rest)?;
    let Some((word, args)) = words.split_first() else {
        return Err(ParseError::MissingCommand);
    };
    let name = word.to_ascii_lowercase();
    let simple = match name.as_str() {
        "help" => Command::Help,
        "generate" => Command::Generate,
        "accept" => Command::Accept,
        "plan" => Command::Plan,
        "validate" => Command::Validate,
        "explain" => Command::Explain,
        "status" => Command::Status,
        "fix" => Command::Fix,
        "rollback" => Command::Rollback,
        "reset" => Command::Reset,
        "set" => return parse_set(args),
        "deploy" => return parse_job_argument(&name, args).map(|job| Command::Deploy { job }),
        "adopt" => return parse_job_argument(&name, args).map(|job| Command::Adopt { job }),
        _ => return Err(ParseError::UnknownCommand(word.clone())),
    };
    match args.first() {
        Some(argument) => {
            Err(ParseError::UnexpectedArgument { command: name, argument: argument.clone() })
        }
        None => Ok(simple),
    }
}

/// `set` arguments.
///
/// Grammar: `set (KEY=VALUE)+`; a key is not empty; a value may be empty; keys are unique.
fn parse_set(args: &[String]) -> Result<Command, ParseError> {
    if args.is_empty() {
        return Err(ParseError::MissingPairs);
    }
    let mut pairs: Vec<(String, String)> = Vec::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else {
            return Err(ParseError::InvalidPair(arg.clone()));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(ParseError::InvalidPair(arg.clone()));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(ParseError::DuplicateKey(key.to_string()));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    Ok(Command::Set { pairs })
}

/// The one job a `deploy` or `adopt` is about.
///
/// Grammar: `(deploy | adopt) JOB`; JOB is one argument, 1 to 128 bytes (Nomad's limit on a
/// job ID), with no whitespace or NUL, kept as written (job IDs are case-sensitive).
fn parse_job_argument(command: &str, args: &[String]) -> Result<String, ParseError> {
    let Some((job, extra)) = args.split_first() else {
        return Err(ParseError::MissingJob { command: command.to_string() });
    };
    if let Some(argument) = extra.first() {
        return Err(ParseError::UnexpectedArgument {
            command: command.to_string(),
            argument: argument.clone(),
        });
    }
    if job.is_empty() || job.len() > 128 || job.chars().any(|c| c.is_whitespace() || c == '\0') {
        let shown: String = job.chars().take(40).collect();
        return Err(ParseError::InvalidJob(shown));
    }
    Ok(job.clone())
}

/// Splits on whitespace, keeping `"..."` and `'...'` runs together (quotes removed).
///
/// Grammar: `argument = (plain | '"' any* '"' | "'" any* "'")+`; no escapes inside quotes.
fn split_arguments(rest: &str) -> Result<Vec<String>, ParseError> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = rest.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                let mut closed = false;
                for (_, inner) in chars.by_ref() {
                    if inner == c {
                        closed = true;
                        break;
                    }
                    current.push(inner);
                }
                if !closed {
                    let shown: String = rest[at..].chars().take(40).collect();
                    return Err(ParseError::UnclosedQuote(shown));
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    args.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        args.push(current);
    }
    Ok(args)
}

/// The lines of prose a reader sees, without code, quotes and link text.
pub(crate) fn visible_lines(text: &str) -> Vec<String> {
    let mut lines = vec![String::new()];
    // Depth counters: inside any of these, text is not prose.
    let mut hidden = 0usize;
    for event in Parser::new(text) {
        match event {
            Event::Start(Tag::CodeBlock(_) | Tag::BlockQuote(_) | Tag::Link { .. }) => hidden += 1,
            Event::End(TagEnd::CodeBlock | TagEnd::BlockQuote(_) | TagEnd::Link) => {
                hidden = hidden.saturating_sub(1)
            }
            Event::Text(t) if hidden == 0 => {
                if let Some(last) = lines.last_mut() {
                    last.push_str(&t);
                }
            }
            // Inline code is shown as code, so a command in backticks is an example.
            Event::Code(_) if hidden == 0 => {
                if let Some(last) = lines.last_mut() {
                    last.push('\u{1}');
                }
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => lines.push(String::new()),
            _ => {}
        }
    }
    lines.retain(|l| !l.trim().is_empty());
    lines
}

/// The help text posted for `help` and for unknown commands (Markdown).
pub fn help_markdown() -> String {
    let rows = [
        ("help", "show this help"),
        ("accept", "take the proposed default for every open question"),
        ("set KEY=VALUE ...", "answer questions by key, e.g. `set memory.api=512`"),
        ("generate", "regenerate the job file from scratch (takes it back from manual edits)"),
        ("validate", "validate the job file"),
        ("plan", "run a Nomad plan and show what would change"),
        ("explain", "explain the job file in plain words"),
        ("status", "show the conversation and deployment state"),
        ("fix", "diagnose the last failure and propose a fix"),
        ("rollback", "revert the job to its last stable version"),
        ("reset", "forget the answers and start again"),
    ];
    let mut out = String::from("| command | what it does |\n|---|---|\n");
    for (command, what) in rows {
        out.push_str(&format!("| `{PREFIX} {command}` | {what} |\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> String {
        format!("{:?}", parse_commands(text))
    }

    #[test]
    fn plain_commands() {
        insta::assert_snapshot!(parse("/nomad-spec help"), @"[Ok(Help)]");
        insta::assert_snapshot!(parse("/nomad-spec accept"), @"[Ok(Accept)]");
        insta::assert_snapshot!(parse("/nomad-spec PLAN"), @"[Ok(Plan)]");
        insta::assert_snapshot!(parse("  /nomad-spec   rollback  "), @"[Ok(Rollback)]");
    }

    #[test]
    fn every_command_word() {
        insta::assert_snapshot!(
            parse("/nomad-spec generate\n/nomad-spec validate\n/nomad-spec explain\n/nomad-spec status\n/nomad-spec fix\n/nomad-spec reset"),
            @"[Ok(Generate), Ok(Validate), Ok(Explain), Ok(Status), Ok(Fix), Ok(Reset)]"
        );
    }

    #[test]
    fn set_pairs() {
        insta::assert_snapshot!(
            parse("/nomad-spec set image.api=ghcr.io/acme/api:1.4 memory.api=512"),
            @r#"[Ok(Set { pairs: [("image.api", "ghcr.io/acme/api:1.4"), ("memory.api", "512")] })]"#
        );
    }

    #[test]
    fn set_quoted_value() {
        insta::assert_snapshot!(
            parse(r#"/nomad-spec set hostname.web="shop.example.com" note='a b'"#),
            @r#"[Ok(Set { pairs: [("hostname.web", "shop.example.com"), ("note", "a b")] })]"#
        );
    }

    #[test]
    fn set_value_with_equals_and_interpolation_stays_text() {
        insta::assert_snapshot!(
            parse("/nomad-spec set env.URL=http://x/?a=b&c=${d}"),
            @r#"[Ok(Set { pairs: [("env.URL", "http://x/?a=b&c=${d}")] })]"#
        );
    }

    #[test]
    fn set_errors() {
        insta::assert_snapshot!(parse("/nomad-spec set"), @"[Err(MissingPairs)]");
        insta::assert_snapshot!(parse("/nomad-spec set memory"), @r#"[Err(InvalidPair("memory"))]"#);
        insta::assert_snapshot!(parse("/nomad-spec set =5"), @r#"[Err(InvalidPair("=5"))]"#);
        insta::assert_snapshot!(
            parse("/nomad-spec set a=1 a=2"),
            @r#"[Err(DuplicateKey("a"))]"#
        );
        insta::assert_snapshot!(
            parse(r#"/nomad-spec set a="open"#),
            @r#"[Err(UnclosedQuote("\"open"))]"#
        );
    }

    #[test]
    fn deploy_names_a_job() {
        insta::assert_snapshot!(parse("/nomad-spec deploy web"), @r#"[Ok(Deploy { job: "web" })]"#);
    }

    #[test]
    fn adopt_names_a_job_and_keeps_its_case() {
        insta::assert_snapshot!(parse("/nomad-spec ADOPT Web-API"), @r#"[Ok(Adopt { job: "Web-API" })]"#);
    }

    #[test]
    fn deploy_without_a_job() {
        insta::assert_snapshot!(parse("/nomad-spec deploy"), @r#"[Err(MissingJob { command: "deploy" })]"#);
    }

    #[test]
    fn adopt_with_two_jobs() {
        insta::assert_snapshot!(
            parse("/nomad-spec adopt web worker"),
            @r#"[Err(UnexpectedArgument { command: "adopt", argument: "worker" })]"#
        );
    }

    #[test]
    fn deploy_with_a_quoted_job_holding_a_space() {
        insta::assert_snapshot!(parse(r#"/nomad-spec deploy "web api""#), @r#"[Err(InvalidJob("web api"))]"#);
    }

    #[test]
    fn adopt_with_an_empty_quoted_job() {
        insta::assert_snapshot!(parse("/nomad-spec adopt ''"), @r#"[Err(InvalidJob(""))]"#);
    }

    #[test]
    fn deploy_with_a_job_id_over_nomads_limit() {
        let long = "j".repeat(129);
        let parsed = parse_commands(&format!("/nomad-spec deploy {long}"));
        assert_eq!(parsed, vec![Err(ParseError::InvalidJob("j".repeat(40)))]);
        let longest = "j".repeat(128);
        let parsed = parse_commands(&format!("/nomad-spec deploy {longest}"));
        assert_eq!(parsed, vec![Ok(Command::Deploy { job: longest })]);
    }

    #[test]
    fn unknown_and_missing_commands() {
        insta::assert_snapshot!(parse("/nomad-spec deploy-prod"), @r#"[Err(UnknownCommand("deploy-prod"))]"#);
        insta::assert_snapshot!(parse("/nomad-spec"), @"[Err(MissingCommand)]");
        insta::assert_snapshot!(
            parse("/nomad-spec plan now"),
            @r#"[Err(UnexpectedArgument { command: "plan", argument: "now" })]"#
        );
    }

    #[test]
    fn not_a_command() {
        insta::assert_snapshot!(parse("please run /nomad-spec plan"), @"[]");
        insta::assert_snapshot!(parse("/nomad-specplan"), @"[]");
        insta::assert_snapshot!(parse(""), @"[]");
    }

    #[test]
    fn commands_in_code_blocks_are_ignored() {
        insta::assert_snapshot!(parse("```\n/nomad-spec rollback\n```"), @"[]");
        insta::assert_snapshot!(parse("~~~text\n/nomad-spec rollback\n~~~\n/nomad-spec plan"), @"[Ok(Plan)]");
        insta::assert_snapshot!(parse("    /nomad-spec rollback"), @"[]");
        insta::assert_snapshot!(parse("`/nomad-spec rollback`"), @"[]");
    }

    #[test]
    fn commands_in_quotes_are_ignored() {
        insta::assert_snapshot!(parse("> /nomad-spec rollback\n\nI disagree"), @"[]");
        insta::assert_snapshot!(parse("> > /nomad-spec reset"), @"[]");
        insta::assert_snapshot!(parse("> /nomad-spec reset\n\n/nomad-spec status"), @"[Ok(Status)]");
    }

    #[test]
    fn link_text_is_ignored() {
        insta::assert_snapshot!(parse("[/nomad-spec rollback](https://example.com)"), @"[]");
    }

    #[test]
    fn several_commands_in_one_comment() {
        insta::assert_snapshot!(
            parse("Thanks!\n/nomad-spec set memory.api=512\n/nomad-spec plan\n"),
            @r#"[Ok(Set { pairs: [("memory.api", "512")] }), Ok(Plan)]"#
        );
    }

    #[test]
    fn commands_in_lists_count() {
        insta::assert_snapshot!(parse("- /nomad-spec accept"), @"[Ok(Accept)]");
    }

    #[test]
    fn help_lists_every_command() {
        let help = help_markdown();
        for word in [
            "help", "accept", "set", "generate", "validate", "plan", "explain", "status", "fix",
            "rollback", "reset",
        ] {
            let line = help.lines().find(|l| l.contains(&format!("{PREFIX} {word}")));
            let command = line.and_then(|l| l.split('`').nth(1)).unwrap_or_default();
            let first = command.trim_start_matches(PREFIX).split_whitespace().next();
            let known =
                first.map(|w| !matches!(parse_command(w), Err(ParseError::UnknownCommand(_))));
            assert_eq!(known, Some(true), "{word}");
        }
    }
}
