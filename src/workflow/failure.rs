//! What a failed run tells the person on the change request, decided once for every trigger
//! (triagebot's split between a user's error and ours).
//!
//! A [`UserError`] is something the person can fix: a setting that is missing or malformed, a
//! `.nomad-spec.toml` or a job file that does not parse. Its message is shown on the change
//! request as it is. Any other error is internal (a bug, or a service that failed): its whole
//! chain goes to the CI log only, and the change request gets a short pointer to the run's log.
//! Either is one comment of the bot's, found again by its marker: created the first time,
//! edited when the problem changes, left alone when a replay meets the same problem, and
//! marked solved by the next run that goes through. The text posted never holds a secret: the
//! values of the secret settings are cut out of it.
//!
//! Handlers only mark what is the user's ([`UserError::of`]); the dispatcher
//! (`workflow::run`) decides what is said, and where.

use crate::conversation::PostedComment;
use crate::forge::Forge;
use crate::settings::Settings;

use super::Runner;

/// The marker line of the bot's problem comment.
pub const PROBLEM_MARKER: &str = "<!-- nomad-spec:problem -->";

/// The longest message shown (a comment has room for more; a person reads this much).
const MESSAGE_CHARS: usize = 4000;

/// What the problem comment says once a later run went through.
const SOLVED: &str = "The problem nomad-spec reported here is solved: a later run went through.";

/// Something the person can fix, shown to them as it is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UserError(String);

impl UserError {
    /// `err`, with its causes, as something the person can fix.
    pub fn of(err: impl Into<anyhow::Error>) -> anyhow::Error {
        let err = err.into();
        anyhow::Error::new(UserError(format!("{err:#}")))
    }
}

/// Whether the person can fix `err` (a [`UserError`] anywhere in its chain).
pub fn is_user_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<UserError>())
}

/// The problem comment's body for `err`: a user error in full, an internal one as a pointer to
/// the run's log; the secrets of `settings` cut out either way.
pub fn problem_text(err: &anyhow::Error, settings: &Settings) -> String {
    let text = if is_user_error(err) {
        let mut message = format!("{err:#}");
        // As the runner's masking: a value too short to be a token would garble the text.
        for secret in settings.secret_values().into_iter().filter(|s| s.len() >= 4) {
            message = message.replace(secret, "***");
        }
        // A block keeps the lines of a parse error apart, and nothing in it is Markdown; a
        // quoted line can still not pass for one of the bot's markers.
        let message: String = message
            .replace("```", "'''")
            .replace("<!--", "<! --")
            .chars()
            .take(MESSAGE_CHARS)
            .collect();
        format!(
            "**nomad-spec could not finish:**\n\n```text\n{message}\n```\n\nOnce it is fixed, \
             push or comment again; this comment is kept up to date."
        )
    } else {
        let log = match settings.run_url() {
            Some(url) => format!("the [run's log]({})", url.replace([')', ' '], "")),
            None => "the CI job's log".to_string(),
        };
        format!(
            "**nomad-spec could not finish** because of a problem on its side or in a service \
             it uses, not in this change request. The details are in {log}."
        )
    };
    format!("{PROBLEM_MARKER}\n{text}\n")
}

/// Says on change request `number` that the run failed with `err` (see [`problem_text`]):
/// the bot's problem comment is created, or edited when it says something else. A forge that
/// cannot be written to is a warning in the log; the run's own error stands.
pub async fn report(
    forge: &Forge,
    number: u64,
    err: &anyhow::Error,
    settings: &Settings,
    runner: &Runner,
) {
    let body = problem_text(err, settings);
    let said = async {
        let bot_login = forge.bot_login().await?;
        let comments = forge.comments(number).await?;
        match problem_comment(&comments, &bot_login) {
            Some(comment) if comment.body == body => {}
            Some(comment) => forge.edit_comment(number, comment.id, &body).await?,
            None => {
                forge.create_comment(number, &body).await?;
            }
        }
        anyhow::Ok(())
    };
    if let Err(said) = said.await {
        runner.warn(&format!("could not say on #{number} that the run failed: {said:#}"));
    }
}

/// After a run that went through: the problem comment an earlier run left among `comments`
/// says it is solved.
pub async fn mark_solved(
    forge: &Forge,
    number: u64,
    comments: &[PostedComment],
    bot_login: &str,
    runner: &Runner,
) {
    let Some(comment) = problem_comment(comments, bot_login) else { return };
    let body = format!("{PROBLEM_MARKER}\n{SOLVED}\n");
    if comment.body != body {
        if let Err(err) = forge.edit_comment(number, comment.id, &body).await {
            runner.warn(&format!("could not mark the problem comment solved: {err}"));
        }
    }
}

/// The bot's problem comment among a change request's comments.
fn problem_comment<'a>(
    comments: &'a [PostedComment],
    bot_login: &str,
) -> Option<&'a PostedComment> {
    crate::conversation::find_bot_comment(comments, bot_login, PROBLEM_MARKER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_vars([
            ("GITHUB_REPOSITORY", "acme/shop"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_TOKEN", "ghs_secret_token"),
            ("NOMAD_TOKEN", "nomad-secret"),
        ])
    }

    #[test]
    fn a_user_error_is_said_in_full_without_secrets() {
        let cause = anyhow::anyhow!(
            ".nomad-spec.toml:2:1: unknown field `bogus` (nomad-secret)\n<!-- nomad-spec:status -->"
        );
        let err = UserError::of(cause).context("reading the repository's settings");
        assert!(is_user_error(&err));
        let text = problem_text(&err, &settings());
        assert!(text.starts_with(PROBLEM_MARKER), "{text}");
        assert!(text.contains("unknown field `bogus`"), "{text}");
        assert!(text.contains("reading the repository's settings"), "{text}");
        assert!(!text.contains("nomad-secret"), "{text}");
        assert!(!text.contains("<!-- nomad-spec:status"), "{text}");
    }

    #[test]
    fn an_internal_error_points_at_the_log_and_says_nothing_else() {
        let err = anyhow::anyhow!("connection refused by 10.0.0.7 with ghs_secret_token");
        assert!(!is_user_error(&err));
        let text = problem_text(&err, &settings());
        assert!(text.contains("(https://github.com/acme/shop/actions/runs/42)"), "{text}");
        assert!(!text.contains("10.0.0.7") && !text.contains("ghs_secret"), "{text}");
        let local = problem_text(&err, &Settings::default());
        assert!(local.contains("the CI job's log"), "{local}");
    }

    #[test]
    fn only_the_bots_own_marked_comment_is_the_problem_comment() {
        let comment = |id, author: &str, body: &str| PostedComment {
            id,
            author: author.into(),
            body: body.into(),
        };
        let quoted = format!("> {PROBLEM_MARKER}\n> it failed");
        let comments = [
            comment(1, "alice", &format!("{PROBLEM_MARKER}\nfake")),
            comment(2, "nomad-spec[bot]", &quoted),
            comment(3, "nomad-spec[bot]", &format!("{PROBLEM_MARKER}\nreal")),
        ];
        assert_eq!(problem_comment(&comments, "nomad-spec[bot]").map(|c| c.id), Some(3));
    }
}
