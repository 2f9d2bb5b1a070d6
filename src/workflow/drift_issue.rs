//! The drift issue (pure, beside the workflow because it reads the drift report of
//! `nomad::drift`): the ONE issue the bot keeps in a repository about jobs on the
//! cluster that no longer match their files.
//!
//! A scheduled run compares the files with the cluster (`nomad::drift`); [`next_step`] decides
//! what happens to the issue: opened when drift appears, edited as it changes, closed when it
//! is gone, reopened when it comes back, left alone when nothing changed (so a schedule that
//! runs every hour does not touch the issue every hour). The issue is found again by
//! [`DRIFT_MARKER`] on a line of its own in a body the bot wrote, like the status comment.
//! The body lists, per drifted job, the commands that settle it: `deploy JOB` (the file's
//! version goes back on the cluster) and `adopt JOB` (a change request writes the cluster's
//! version into the file). Names and values from the cluster are escaped.

use std::fmt::Write as _;

use crate::command::PREFIX;
use crate::conversation::PostedIssue;
use crate::markdown::code;
use crate::nomad::drift::{render_markdown, DriftReport, DriftState};

/// The line that marks the bot's drift issue.
pub const DRIFT_MARKER: &str = "<!-- nomad-spec:drift -->";

/// The drift issue's title.
pub const DRIFT_TITLE: &str = "nomad-spec: jobs on the cluster differ from their files";

/// What to do with the drift issue after a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueStep {
    /// Drift and no issue yet: open one.
    Open { title: String, body: String },
    /// Drift, and the open issue says something else: replace its body.
    Edit { number: u64, body: String },
    /// Drift again after the issue was closed: reopen it with the new body.
    Reopen { number: u64, body: String },
    /// No drift any more: say so in the body and close the issue.
    Close { number: u64, body: String },
    /// The issue already says what there is to say.
    Nothing,
}

/// The bot's drift issue among a repository's issues: written by `bot_login`, with the marker
/// on a line of its own; an open one before a closed one, then the oldest.
pub fn find_drift_issue<'a>(issues: &'a [PostedIssue], bot_login: &str) -> Option<&'a PostedIssue> {
    issues
        .iter()
        .filter(|issue| issue.author.eq_ignore_ascii_case(bot_login))
        .filter(|issue| issue.body.lines().any(|line| line.trim() == DRIFT_MARKER))
        .min_by_key(|issue| (!issue.open, issue.number))
}

/// What to do with `existing` (the bot's drift issue, if any) given the comparison.
pub fn next_step(existing: Option<&PostedIssue>, report: &DriftReport) -> IssueStep {
    let body = render_issue(report);
    match (existing, report.has_drift()) {
        (None, true) => IssueStep::Open { title: DRIFT_TITLE.to_string(), body },
        (None, false) => IssueStep::Nothing,
        (Some(issue), true) if !issue.open => IssueStep::Reopen { number: issue.number, body },
        (Some(issue), true) if issue.body != body => IssueStep::Edit { number: issue.number, body },
        (Some(_), true) => IssueStep::Nothing,
        (Some(issue), false) if issue.open => IssueStep::Close { number: issue.number, body },
        (Some(_), false) => IssueStep::Nothing,
    }
}

/// The issue's body: the marker, the report, and the commands for each drifted job.
pub fn render_issue(report: &DriftReport) -> String {
    let mut out = format!("{DRIFT_MARKER}\n");
    if !report.has_drift() {
        let _ = writeln!(
            out,
            "Every job matches its file again ({}), so this issue is closed. It is reopened \
             when a job drifts again.\n",
            report.summary()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Jobs on the Nomad cluster no longer match their files in this repository: someone \
         changed them by hand, or a file changed without a deploy. This issue is kept up to \
         date by a scheduled run and closed when every job matches again.\n"
    );
    out.push_str(&render_markdown(report));
    let mut commands = Vec::new();
    for job in &report.jobs {
        let name = &job.job;
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            // A command is shown as code; a name that could end the code span is not offered.
            if matches!(job.state, DriftState::Differs { .. } | DriftState::Missing) {
                commands.push(format!(
                    "- {}: its name cannot be written safely in a command here; use \
                     `nomad-spec deploy` with its file",
                    code(name)
                ));
            }
            continue;
        }
        match &job.state {
            DriftState::Differs { .. } => {
                commands.push(format!(
                    "- {}: `{PREFIX} deploy {name}` puts the file's version back, `{PREFIX} \
                     adopt {name}` opens a change request that writes the cluster's version \
                     into the file",
                    code(name)
                ));
            }
            DriftState::Missing => commands.push(format!(
                "- {}: `{PREFIX} deploy {name}` registers the file's job",
                code(name)
            )),
            DriftState::NoFile { .. } | DriftState::InSync => {}
        }
    }
    if !commands.is_empty() {
        let _ = writeln!(
            out,
            "**Commands** (a comment on this issue by a person with write access):\n"
        );
        for line in commands {
            let _ = writeln!(out, "{line}");
        }
        out.push('\n');
    }
    if report.jobs.iter().any(|job| matches!(job.state, DriftState::NoFile { .. })) {
        let _ = writeln!(
            out,
            "A job with no file was started from this repository (its job meta says so) but \
             no file describes it any more: stop it on the cluster, or add its file back.\n"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nomad::drift::JobDrift;

    fn job(name: &str, state: DriftState) -> JobDrift {
        JobDrift {
            job: name.into(),
            namespace: "default".into(),
            file: match state {
                DriftState::NoFile { .. } => None,
                _ => Some(format!("deploy/{name}.nomad.hcl")),
            },
            state,
        }
    }

    fn drifted() -> DriftReport {
        DriftReport {
            repositories: vec!["shop".into()],
            jobs: vec![
                job(
                    "web",
                    DriftState::Differs {
                        changes: vec!["group app: count 3 → 1 on the cluster".into()],
                    },
                ),
                job("worker", DriftState::Missing),
                job("old-api", DriftState::NoFile { repository: "shop".into() }),
                job("cache", DriftState::InSync),
            ],
        }
    }

    fn in_sync() -> DriftReport {
        DriftReport {
            repositories: vec!["shop".into()],
            jobs: vec![job("web", DriftState::InSync)],
        }
    }

    fn issue(number: u64, author: &str, open: bool, body: &str) -> PostedIssue {
        PostedIssue { number, author: author.into(), open, body: body.into() }
    }

    #[test]
    fn the_body_names_the_drift_and_the_commands() {
        insta::assert_snapshot!(render_issue(&drifted()), @r"
        <!-- nomad-spec:drift -->
        Jobs on the Nomad cluster no longer match their files in this repository: someone changed them by hand, or a file changed without a deploy. This issue is kept up to date by a scheduled run and closed when every job matches again.

        ### Nomad drift: drift

        1 in sync, 1 differs, 1 missing on the cluster, 1 with no file

        | job | file | state |
        |---|---|---|
        | <code>web</code> | <code>deploy/web\.nomad\.hcl</code> | differs from the cluster |
        | <code>worker</code> | <code>deploy/worker\.nomad\.hcl</code> | missing on the cluster |
        | <code>old\-api</code> | none | on the cluster, no job file |
        | <code>cache</code> | <code>deploy/cache\.nomad\.hcl</code> | in sync |

        **<code>web</code>** differs:

        - group app: count 3 → 1 on the cluster

        **Commands** (a comment on this issue by a person with write access):

        - <code>web</code>: `/nomad-spec deploy web` puts the file's version back, `/nomad-spec adopt web` opens a change request that writes the cluster's version into the file
        - <code>worker</code>: `/nomad-spec deploy worker` registers the file's job

        A job with no file was started from this repository (its job meta says so) but no file describes it any more: stop it on the cluster, or add its file back.
        ");
    }

    #[test]
    fn a_name_that_would_end_a_code_span_gets_no_command() {
        let report =
            DriftReport { repositories: vec![], jobs: vec![job("we`b", DriftState::Missing)] };
        let body = render_issue(&report);
        assert!(!body.contains("/nomad-spec deploy we"), "{body}");
        assert!(body.contains("cannot be written safely"), "{body}");
    }

    #[test]
    fn the_issue_lives_and_dies_with_the_drift() {
        let bot = "nomad-spec[bot]";
        // Drift appears: open.
        let IssueStep::Open { title, body } = next_step(None, &drifted()) else { panic!() };
        assert_eq!(title, DRIFT_TITLE);
        let open = issue(4, bot, true, &body);
        // The same drift an hour later: nothing.
        assert_eq!(next_step(Some(&open), &drifted()), IssueStep::Nothing);
        // The drift changes: edit.
        let mut less = drifted();
        less.jobs.remove(1);
        let IssueStep::Edit { number: 4, body } = next_step(Some(&open), &less) else { panic!() };
        let edited = issue(4, bot, true, &body);
        // The drift is gone: close, saying so.
        let IssueStep::Close { number: 4, body } = next_step(Some(&edited), &in_sync()) else {
            panic!()
        };
        assert!(body.starts_with(DRIFT_MARKER) && body.contains("matches its file again"));
        let closed = issue(4, bot, false, &body);
        assert_eq!(next_step(Some(&closed), &in_sync()), IssueStep::Nothing);
        // It comes back: reopen the same issue.
        assert!(matches!(
            next_step(Some(&closed), &drifted()),
            IssueStep::Reopen { number: 4, .. }
        ));
        // No issue and no drift: nothing at all.
        assert_eq!(next_step(None, &in_sync()), IssueStep::Nothing);
    }

    #[test]
    fn only_the_bots_issue_with_the_marker_line_counts() {
        let bot = "nomad-spec[bot]";
        let marked = format!("{DRIFT_MARKER}\ndrift");
        let issues = [
            issue(1, "mallory", true, &marked),
            issue(2, bot, true, &format!("> {DRIFT_MARKER}")),
            issue(3, bot, false, &marked),
            issue(5, bot, true, &marked),
            issue(6, bot, true, &marked),
        ];
        assert_eq!(find_drift_issue(&issues, bot).map(|i| i.number), Some(5));
        assert_eq!(find_drift_issue(&issues[..3], "NOMAD-SPEC[BOT]").map(|i| i.number), Some(3));
        assert_eq!(find_drift_issue(&issues[..2], bot), None);
    }
}
