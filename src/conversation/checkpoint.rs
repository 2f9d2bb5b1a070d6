//! The checkpoint: the conversation's whole state, saved as a hidden marker in the status comment.
//!
//! Every CI run is a fresh container, so what the bot knows about a pull request lives in the
//! pull request itself, as one line inside the bot's status comment:
//!
//! ```text
//! <!-- nomad-spec:state v1 sha256=<64 hex> {"version":1,...} -->
//! ```
//!
//! The payload is plain JSON made safe inside an HTML comment: every `-`, `<`, `>` and `@` is
//! written as a JSON `\u` escape. The checkpoint holds no negative numbers, so those characters
//! only ever occur inside JSON strings, where the escape decodes to the same text; the marker can
//! therefore never contain `--` or `>` and no answer text can end the comment early. The
//! `sha256` field is the digest of the payload exactly as written: a marker someone edited by
//! hand no longer matches and is reported as [`CheckpointError::Tampered`]. The digest detects
//! edits, it does not authenticate: trust comes from reading only the comment the bot itself
//! wrote ([`find_status_comment`] takes the bot's login).
//!
//! This module owns the types and the codec. It does not decide what happens next; that is
//! [`super::state`].

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jobspec::answers::{Answers, Question};

/// The version written by [`encode`]; [`decode`] refuses others.
pub const VERSION: u32 = 1;

/// The visible-marker line that identifies the bot's status comment (an HTML comment, so
/// readers don't see it).
pub const STATUS_MARKER: &str = "<!-- nomad-spec:status -->";

/// How the state marker starts.
const STATE_OPEN: &str = "<!-- nomad-spec:state ";
/// How the state marker ends.
const STATE_CLOSE: &str = "-->";

/// Where a pull request's conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing known yet (a fresh or rebuilt checkpoint).
    New,
    /// The status comment asks questions that still need a person.
    AwaitingAnswers,
    /// The job file is committed (or shown, on a fork); checks have not reported yet.
    Generated,
    /// Checks ran on the committed file and all passed or were skipped.
    Checked,
    /// Checks ran and at least one failed.
    ChecksFailed,
    /// The pull request was merged; a deploy is due.
    Merged,
    /// A deploy (or a redeploy after a fix) is running.
    Deploying,
    /// The job runs healthy on Nomad.
    Healthy,
    /// The last deploy failed and was not fixed automatically (unfixable, or waiting for a
    /// person's `/nomad-spec fix`).
    Failed,
    /// Fixes ran out: the job was rolled back to its last stable version.
    GaveUp,
}

impl Stage {
    /// The pull request is still being talked about: not merged yet (questions, the job file,
    /// its checks).
    pub fn before_merge(self) -> bool {
        matches!(
            self,
            Stage::New
                | Stage::AwaitingAnswers
                | Stage::Generated
                | Stage::Checked
                | Stage::ChecksFailed
        )
    }
}

/// Who may write the generated job file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// The bot generates and commits it.
    Bot,
    /// A person edited it since the bot's last commit: the bot only checks it, until
    /// `/nomad-spec generate` takes it back.
    Human,
}

/// One question of the status comment, with how it was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedQuestion {
    /// The `KEY` of `KEY=VALUE` (`image.api`).
    pub key: String,
    /// What is asked, in words.
    pub prompt: String,
    /// The proposed default.
    pub default: String,
    /// The default is a guess that will probably not work (see [`Question::needs_answer`]).
    pub needs_answer: bool,
    /// The value a person gave, when one did.
    pub answer: Option<String>,
    /// Login of who answered.
    pub answered_by: Option<String>,
    /// The comment that carried the answer (0 for the status comment's checkboxes).
    pub comment_id: Option<u64>,
}

/// Longest prompt kept in the checkpoint, so the marker stays well below the comment limit.
const LONGEST_PROMPT: usize = 300;

impl TrackedQuestion {
    /// An unanswered question from the spec engine's (a very long prompt is shortened).
    pub fn new(question: &Question) -> Self {
        let mut prompt: String = question.prompt.chars().take(LONGEST_PROMPT).collect();
        if prompt.len() < question.prompt.len() {
            prompt.push('…');
        }
        TrackedQuestion {
            key: question.key.clone(),
            prompt,
            default: question.default.clone(),
            needs_answer: question.needs_answer,
            answer: None,
            answered_by: None,
            comment_id: None,
        }
    }

    /// Yes/no questions get a checkbox in the status comment.
    pub fn is_yes_no(&self) -> bool {
        self.key.starts_with("deploy.") || matches!(self.default.as_str(), "true" | "false")
    }
}

/// The answers one comment gave, kept so an edited comment replaces them rather than adding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRecord {
    /// The comment (0 for checkboxes ticked in the status comment).
    pub comment_id: u64,
    /// Who wrote it.
    pub author: String,
    /// `(key, value)` in the order given; each already passed `Answers::set`.
    pub pairs: Vec<(String, String)>,
}

/// The deploy of the merged job, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    /// The commit being deployed (merge commit, then fix commits).
    pub commit: String,
    /// Deploy attempts for this merge, counting redeploys after fixes.
    pub attempts: u32,
    /// The last verdict in words (`healthy`, `failed: OOM killed`...).
    pub verdict: Option<String>,
    /// The diagnosis of the last failure, as shown to people.
    pub diagnosis: Option<String>,
}

/// The last events applied, for idempotence (see [`super::state::Event::id`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventStamp {
    /// The content-derived event id.
    pub id: String,
    /// The event's kind, for people reading the marker.
    pub kind: String,
}

/// How many event stamps a checkpoint keeps; older ones are dropped.
pub const KEPT_EVENTS: usize = 32;

/// The conversation's whole state. Field order is the JSON order, and the JSON is hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The format version ([`VERSION`]).
    pub version: u32,
    /// Where the conversation stands.
    pub stage: Stage,
    /// The pull request comes from a fork: never a commit, deploy or secret.
    #[serde(default)]
    pub fork: bool,
    /// The questions shown, numbered from 1 in this order.
    pub questions: Vec<TrackedQuestion>,
    /// The answers, as the spec engine reads them (all of `answer_log`, applied in order).
    pub answers: Answers,
    /// Who answered what, per comment.
    pub answer_log: Vec<AnswerRecord>,
    /// The generated file's path in the repository.
    pub spec_path: Option<String>,
    /// sha256 (hex) of the file content the bot committed last.
    pub spec_hash: Option<String>,
    /// The bot's last commit of the file.
    pub bot_commit: Option<String>,
    /// Who may write the file.
    pub owner: Owner,
    /// Fix commits made for the current merge.
    pub fix_iterations: u32,
    /// The latest deploy.
    pub deploy: Option<DeployRecord>,
    /// Logins already told they may not drive the bot (told once only).
    pub refused: Vec<String>,
    /// Why the checkpoint was rebuilt, shown in the status comment until someone answers.
    pub rebuilt_because: Option<String>,
    /// The last events applied, newest last (at most [`KEPT_EVENTS`]).
    pub events: Vec<EventStamp>,
    /// The checks of the file the bot last checked, in brief, so a later run's status comment
    /// still shows them (their annotations stay on the checks themselves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckBrief>,
}

/// One check's outcome, as the status comment keeps it between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBrief {
    /// `nomad-spec/validate`, ...
    pub name: String,
    pub status: crate::checks::CheckStatus,
    /// The check's summary, shortened.
    pub summary: String,
}

impl CheckBrief {
    /// The brief of a check result (summaries beyond 300 characters are cut).
    pub fn of(result: &crate::checks::CheckResult) -> CheckBrief {
        let mut summary: String = result.summary.chars().take(300).collect();
        if summary.len() < result.summary.len() {
            summary.push('…');
        }
        CheckBrief { name: result.name.clone(), status: result.status, summary }
    }

    /// Back to a result without annotations, for rendering.
    pub fn to_result(&self) -> crate::checks::CheckResult {
        crate::checks::CheckResult {
            name: self.name.clone(),
            status: self.status,
            summary: self.summary.clone(),
            annotations: Vec::new(),
        }
    }
}

impl Default for Checkpoint {
    fn default() -> Self {
        Checkpoint::new()
    }
}

impl Checkpoint {
    /// A fresh conversation.
    pub fn new() -> Self {
        Checkpoint {
            version: VERSION,
            stage: Stage::New,
            fork: false,
            questions: Vec::new(),
            answers: Answers::default(),
            answer_log: Vec::new(),
            spec_path: None,
            spec_hash: None,
            bot_commit: None,
            owner: Owner::Bot,
            fix_iterations: 0,
            deploy: None,
            refused: Vec::new(),
            rebuilt_because: None,
            events: Vec::new(),
            checks: Vec::new(),
        }
    }

    /// A checkpoint rebuilt from the branch when the marker is absent or cannot be trusted.
    ///
    /// The answers are lost (they lived only in the marker), so the questions are asked again
    /// by the next [`super::state::Event::PullRequestChanged`]. What the branch still tells is
    /// kept: where the job file is and whether the bot committed it last. `branch` says so; the
    /// caller learns it from git (last commit touching `spec_path` and its author).
    pub fn rebuilt_from(branch: &BranchFacts, error: &CheckpointError) -> Self {
        let mut checkpoint = Checkpoint::for_branch(branch);
        checkpoint.rebuilt_because = Some(error.to_string());
        checkpoint
    }

    /// A fresh conversation on a branch that may already hold a job file: a file the bot
    /// committed last (in an earlier pull request, say) stays the bot's; any other file is a
    /// person's. Use it for a pull request without a status comment yet.
    pub fn for_branch(branch: &BranchFacts) -> Self {
        let mut checkpoint = Checkpoint::new();
        checkpoint.spec_path = branch.spec_path.clone();
        match (&branch.spec_hash, &branch.last_commit_by_bot) {
            (Some(hash), Some(commit)) => {
                checkpoint.spec_hash = Some(hash.clone());
                checkpoint.bot_commit = Some(commit.clone());
            }
            // A file nobody can show the bot wrote is a person's: check it, don't rewrite it.
            (Some(_), None) => checkpoint.owner = Owner::Human,
            (None, _) => {}
        }
        checkpoint
    }

    /// The question numbered `number` (from 1).
    pub fn question(&self, number: usize) -> Option<&TrackedQuestion> {
        number.checked_sub(1).and_then(|i| self.questions.get(i))
    }

    /// Questions that still need a person (no answer, and the default will not do).
    pub fn open_questions(&self) -> impl Iterator<Item = &TrackedQuestion> {
        self.questions.iter().filter(|q| q.answer.is_none() && q.needs_answer)
    }
}

/// What the branch tells when the checkpoint has to be rebuilt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchFacts {
    /// The job file's path, when it exists on the branch.
    pub spec_path: Option<String>,
    /// sha256 of its content.
    pub spec_hash: Option<String>,
    /// The last commit touching it, when the bot made that commit.
    pub last_commit_by_bot: Option<String>,
}

/// Why a status comment's marker could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The comment has no state marker.
    #[error("the status comment has no state marker")]
    Absent,
    /// The marker was written by another version of nomad-spec.
    #[error("the state marker has version `{0}`, this nomad-spec reads v{VERSION}")]
    UnknownVersion(String),
    /// The marker is not well formed or its JSON does not parse.
    #[error("the state marker is corrupted: {0}")]
    Corrupted(String),
    /// The marker parses but its digest does not match: someone edited it.
    #[error("the state marker was edited by hand (its sha256 does not match)")]
    Tampered,
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The state marker line for `checkpoint` (no newline).
pub fn encode(checkpoint: &Checkpoint) -> String {
    let payload = comment_safe_json(checkpoint);
    let digest = sha256_hex(payload.as_bytes());
    format!("{STATE_OPEN}v{VERSION} sha256={digest} {payload} {STATE_CLOSE}")
}

/// JSON whose text holds no `-`, `<`, `>` or `@` (see the module doc for why this is exact).
fn comment_safe_json(checkpoint: &Checkpoint) -> String {
    // Serializing a struct of strings, unsigned numbers and maps cannot fail.
    let json = serde_json::to_string(checkpoint).unwrap_or_default();
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '-' => out.push_str("\\u002d"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            // A mention inside a hidden comment should not notify anyone either.
            '@' => out.push_str("\\u0040"),
            c => out.push(c),
        }
    }
    out
}

/// Reads the checkpoint out of a status comment's body.
pub fn decode(comment_body: &str) -> Result<Checkpoint, CheckpointError> {
    let start = comment_body.find(STATE_OPEN).ok_or(CheckpointError::Absent)?;
    let rest = &comment_body[start + STATE_OPEN.len()..];
    let end = rest
        .find(STATE_CLOSE)
        .ok_or_else(|| CheckpointError::Corrupted("the marker is never closed".into()))?;
    let inner = rest[..end].trim();
    let (version, inner) = inner.split_once(' ').unwrap_or((inner, ""));
    if version != format!("v{VERSION}") {
        return Err(CheckpointError::UnknownVersion(version.chars().take(20).collect()));
    }
    let (digest, payload) = inner
        .split_once(' ')
        .and_then(|(d, p)| Some((d.strip_prefix("sha256=")?, p)))
        .ok_or_else(|| CheckpointError::Corrupted("the sha256 field is missing".into()))?;
    let value: serde_json::Value = serde_json::from_str(payload)
        .map_err(|err| CheckpointError::Corrupted(format!("bad JSON: {err}")))?;
    if sha256_hex(payload.as_bytes()) != digest {
        return Err(CheckpointError::Tampered);
    }
    let checkpoint: Checkpoint = serde_json::from_value(value)
        .map_err(|err| CheckpointError::Corrupted(format!("unexpected content: {err}")))?;
    if checkpoint.version != VERSION {
        return Err(CheckpointError::UnknownVersion(checkpoint.version.to_string()));
    }
    Ok(checkpoint)
}

/// A comment on the pull request, as the forge lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedComment {
    /// The forge's comment id.
    pub id: u64,
    /// Login of the comment's author.
    pub author: String,
    /// Markdown body.
    pub body: String,
}

/// An issue, as the forge lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedIssue {
    /// The issue's number (GitLab: iid).
    pub number: u64,
    /// Login of its author.
    pub author: String,
    /// Whether it is open.
    pub open: bool,
    /// Markdown body.
    pub body: String,
}

/// The bot's status comment among a pull request's comments.
///
/// Only comments written by `bot_login` count, so a person quoting the status comment (marker
/// and all) is never mistaken for it. The marker must be a line of its own. When a race left
/// two, the oldest (lowest id) wins and the caller may delete the other.
pub fn find_status_comment<'a>(
    comments: &'a [PostedComment],
    bot_login: &str,
) -> Option<&'a PostedComment> {
    find_bot_comment(comments, bot_login, STATUS_MARKER)
}

/// The oldest comment written by `bot_login` that has `marker` as a line of its own (so a
/// person quoting it is never mistaken for the bot).
pub fn find_bot_comment<'a>(
    comments: &'a [PostedComment],
    bot_login: &str,
    marker: &str,
) -> Option<&'a PostedComment> {
    comments
        .iter()
        .filter(|c| c.author.eq_ignore_ascii_case(bot_login))
        .filter(|c| c.body.lines().any(|line| line.trim() == marker))
        .min_by_key(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let mut answers = Answers::default();
        answers.set("image.api=ghcr.io/acme/api:1.4").unwrap();
        answers.set("env.api.NOTE=--> <!-- -- ${x} \n é 日本 ❤").unwrap();
        let mut c = Checkpoint::new();
        c.stage = Stage::AwaitingAnswers;
        c.questions.push(TrackedQuestion {
            key: "image.api".into(),
            prompt: "Which image? -->".into(),
            default: "ghcr.io/acme/api:latest".into(),
            needs_answer: true,
            answer: Some("a --> b <!-- c -- d\n${e}".into()),
            answered_by: Some("alice".into()),
            comment_id: Some(7),
        });
        c.answers = answers;
        c
    }

    #[test]
    fn round_trips_adversarial_text() {
        let c = sample();
        let marker = encode(&c);
        let inner = &marker[STATE_OPEN.len()..marker.len() - STATE_CLOSE.len()];
        assert!(!inner.contains("--"), "{inner}");
        assert!(!inner.contains('>') && !inner.contains('<') && !inner.contains('\n'));
        let body = format!("hello\n{STATUS_MARKER}\n{marker}\nbye");
        assert_eq!(decode(&body), Ok(c));
    }

    #[test]
    fn errors_are_distinct() {
        let marker = encode(&sample());
        let cases: Vec<(String, CheckpointError)> = vec![
            ("no marker here".into(), CheckpointError::Absent),
            (marker.replace(" v1 ", " v9 "), CheckpointError::UnknownVersion("v9".into())),
            (marker.replace("\"stage\"", "\"stage"), CheckpointError::Corrupted(String::new())),
            (marker.replace("awaiting_answers", "healthy"), CheckpointError::Tampered),
            (
                marker.replace(" -->", ""),
                CheckpointError::Corrupted("the marker is never closed".into()),
            ),
        ];
        for (body, expected) in cases {
            let got = decode(&body).unwrap_err();
            match (&got, &expected) {
                (CheckpointError::Corrupted(_), CheckpointError::Corrupted(e)) if e.is_empty() => {}
                _ => assert_eq!(got, expected, "{body}"),
            }
        }
    }

    #[test]
    fn rebuild_keeps_what_the_branch_tells() {
        let facts = BranchFacts {
            spec_path: Some("deploy/api.nomad.hcl".into()),
            spec_hash: Some("abc".into()),
            last_commit_by_bot: None,
        };
        let c = Checkpoint::rebuilt_from(&facts, &CheckpointError::Tampered);
        assert_eq!(c.owner, Owner::Human);
        assert_eq!(c.stage, Stage::New);
        assert!(c.rebuilt_because.unwrap().contains("edited by hand"));
        let facts = BranchFacts { last_commit_by_bot: Some("c0ffee".into()), ..facts };
        let c = Checkpoint::rebuilt_from(&facts, &CheckpointError::Absent);
        assert_eq!((c.owner, c.bot_commit.as_deref()), (Owner::Bot, Some("c0ffee")));
    }

    #[test]
    fn finds_the_bot_comment_not_quotes() {
        let body = format!("{STATUS_MARKER}\nstatus");
        let comments = vec![
            PostedComment { id: 1, author: "mallory".into(), body: body.clone() },
            PostedComment { id: 2, author: "alice".into(), body: format!("> {STATUS_MARKER}") },
            PostedComment { id: 5, author: "nomad-spec[bot]".into(), body: body.clone() },
            PostedComment { id: 3, author: "nomad-spec[bot]".into(), body: "a reply".into() },
        ];
        assert_eq!(find_status_comment(&comments, "nomad-spec[bot]").map(|c| c.id), Some(5));
        assert_eq!(find_status_comment(&comments[..2], "nomad-spec[bot]"), None);
    }
}
