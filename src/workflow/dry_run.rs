//! `nomad-spec ci --dry-run`: what the bot would do with an event, without calling anything.
//!
//! It reads the trigger from the CI environment exactly as a real run does, analyzes a local
//! checkout (the current folder by default) instead of cloning, and applies the event to a
//! fresh conversation (the real run loads the conversation from the change request's status
//! comment, which a dry run cannot read). Nothing is posted, committed, checked or deployed;
//! where a real run would ask the forge (a commenter's permission, the merged change request of
//! a push), the dry run says what it assumed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::{checkout, describe, detect, trigger_from_env, UnreadableEvent};
use crate::conversation::{
    apply, sha256_hex, Action, Actor, BranchFacts, Checkpoint, Event, Learned, Permission,
};
use crate::event::Trigger;
use crate::generation::Prepared;
use crate::git::{repository_name, NameSource};
use crate::jobspec::parse::MAX_SOURCE_BYTES;
use crate::settings::{BotSettings, Settings};

/// The plan of a run, as text.
pub fn plan(settings: &Settings, root: &Path) -> anyhow::Result<String> {
    let vars = settings.vars();
    let kind = detect(vars).context(
        "no CI event to read: set GITHUB_EVENT_NAME and GITHUB_EVENT_PATH (GitHub) or the \
         GitLab CI_* variables, as the CI would",
    )?;
    let bot = settings.bot()?;
    let trigger = trigger_from_env(kind, settings).context(UnreadableEvent)?;
    let mut out = String::new();
    let _ = writeln!(out, "forge:   {kind:?}");
    let _ = writeln!(out, "trigger: {}", describe(&trigger));

    let config = checkout::repository_config(root, &bot)?;
    let repository = match &trigger {
        Trigger::PullRequestChanged { repository, .. }
        | Trigger::PullRequestMerged { repository, .. }
        | Trigger::PullRequestComment { repository, .. }
        | Trigger::PushToDefaultBranch { repository, .. }
        | Trigger::Manual { repository, .. } => repository.full_name.clone(),
        Trigger::Schedule { repository } => {
            let _ = writeln!(
                out,
                "\nwould compare the job files of {} with the cluster (a plan of each, and the \
                 jobs whose meta names the repository) and open, edit or close the drift issue",
                repository.default_branch
            );
            return Ok(out);
        }
        Trigger::IssueComment { issue_number, .. } => {
            let _ = writeln!(
                out,
                "\nwould act on the comment's `deploy JOB` and `adopt JOB` commands if issue \
                 #{issue_number} is the drift issue and its author has write access: deploy the \
                 file's version of the job, or open a change request with the cluster's version"
            );
            return Ok(out);
        }
        Trigger::ImagesBuilt { commit, succeeded, .. } => {
            let what = if *succeeded {
                "check its images in the registry, pin them in the job files of the default \
                 branch and deploy"
            } else {
                "say on the change request that merged it that nothing was deployed"
            };
            let _ = writeln!(out, "\nwould {what} (the image build of {commit})");
            return Ok(out);
        }
        Trigger::Ignored { reason } => {
            let _ = writeln!(out, "\nwould do nothing: {reason}");
            return Ok(out);
        }
    };
    let name = repository_name(NameSource::FullName(&repository));
    let analysis = checkout::analyze_checkout(root, &name);
    let prepared = Prepared::offline(analysis, config, name);
    let (questions, spec_path, error) = prepared.questions_and_path();
    let analysis = &prepared.analysis;
    if let Some(err) = error {
        let _ = writeln!(out, "analysis: {err}");
    }
    let _ = writeln!(
        out,
        "analysis of {}: {} service(s), {} question(s); job file {spec_path}",
        root.display(),
        analysis.services.len(),
        questions.len()
    );

    let spec_hash = crate::file::read(&root.join(&spec_path), MAX_SOURCE_BYTES as u64)
        .ok()
        .map(|b| sha256_hex(&b));
    let facts = BranchFacts {
        spec_path: spec_hash.as_ref().map(|_| spec_path.clone()),
        spec_hash: spec_hash.clone(),
        last_commit_by_bot: None,
    };
    let event = match &trigger {
        Trigger::PushToDefaultBranch { after, .. } => {
            let _ = writeln!(
                out,
                "assumed: {after} merged a change request (a real run asks the forge); \
                 otherwise the job files it changed are deployed and their fixes committed"
            );
            Event::Merged { merge_sha: after.clone() }
        }
        Trigger::Manual { .. } => {
            let _ = writeln!(
                out,
                "\nwould check every job file of the ref (validate, secrets, routes, plan) and \
                 report in the job summary; nothing is posted, committed or deployed"
            );
            return Ok(out);
        }
        _ => {
            let sender = match &trigger {
                Trigger::PullRequestComment { comment, .. } => {
                    let _ = writeln!(
                        out,
                        "assumed: {} has write permission (a real run asks the forge)",
                        comment.sender
                    );
                    Actor { login: comment.sender.clone(), permission: Permission::Write }
                }
                _ => Actor { login: String::new(), permission: Permission::None },
            };
            let learned = Learned {
                bot_login: bot.bot_login.clone().unwrap_or_else(|| "nomad-spec[bot]".into()),
                sender,
                questions,
                spec_path: spec_path.clone(),
                spec_file_hash: spec_hash,
            };
            match Event::from_trigger(&trigger, &learned) {
                Some(event) => event,
                None => {
                    let _ = writeln!(out, "\nwould do nothing");
                    return Ok(out);
                }
            }
        }
    };
    let _ = writeln!(
        out,
        "assumed: no status comment yet (a real run reads it from the change request)"
    );
    let (checkpoint, actions) = apply(&Checkpoint::for_branch(&facts), &event);
    let _ = writeln!(out, "\nwould do, in order:");
    for (i, action) in actions.iter().enumerate() {
        let _ = writeln!(out, "{:>3}. {}", i + 1, describe_action(action, &bot));
    }
    let _ = writeln!(out, "\nconversation afterwards: {:?}", checkpoint.stage);
    Ok(out)
}

fn describe_action(action: &Action, bot: &BotSettings) -> String {
    match action {
        Action::UpsertStatusComment => "create or edit the status comment".into(),
        Action::Reply { text } => format!("reply: {}", first_line(text)),
        Action::React { comment_id, reaction } => {
            format!("react {} to comment {comment_id}", reaction.as_str())
        }
        Action::CommitSpec { path, message } => {
            format!("commit {path} ({}) and push it, never forced", first_line(message))
        }
        Action::SuggestSpec => "show the job file as a suggestion (fork: no push)".into(),
        Action::RunChecks => {
            "run and report nomad-spec/validate, /secrets, /routes and /plan on the head".into()
        }
        Action::Explain => "reply with the reasons behind the job file".into(),
        Action::Deploy { commit } => {
            if bot.auto_deploy {
                format!(
                    "deploy the job file at {} to Nomad and watch it",
                    commit.get(..12).unwrap_or(commit)
                )
            } else {
                "nothing: auto-deploy is off".into()
            }
        }
        Action::Rollback { reason } => format!("roll the job back ({reason})"),
        Action::Nothing { reason } => format!("nothing: {reason}"),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
