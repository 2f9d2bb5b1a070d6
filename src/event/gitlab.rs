//! GitLab CI → one `Trigger` (pure): the job's predefined variables, plus the webhook JSON a
//! comment-triggered pipeline carries in `TRIGGER_PAYLOAD`.
//!
//! A GitLab job learns what happened from its predefined CI/CD variables
//! (<https://docs.gitlab.com/ci/variables/predefined_variables/>):
//!
//! - `CI_PIPELINE_SOURCE=merge_request_event`: a merge request pipeline, started when the merge
//!   request was opened or its source branch got commits. No variable tells the two apart, so
//!   the action is always [`PullRequestAction::Synchronize`] (the workflow does the same for
//!   both).
//! - `push` (or `web`, a pipeline run by hand) on `CI_COMMIT_BRANCH == CI_DEFAULT_BRANCH`: the
//!   default branch moved, usually a merge. GitLab does not list the changed files in any
//!   variable; `changed_files` is empty and the workflow diffs `CI_COMMIT_BEFORE_SHA..
//!   CI_COMMIT_SHA` itself.
//! - `trigger` or `pipeline` with `TRIGGER_PAYLOAD`: notes cannot start a pipeline, so a
//!   project webhook on comment events calls the pipeline trigger API and the job gets the
//!   webhook's body in the file variable `TRIGGER_PAYLOAD`. Its contents (the caller reads the
//!   file) are a note event (<https://docs.gitlab.com/user/project/integrations/webhook_events/#comment-events>):
//!   a note on a merge request becomes [`Trigger::PullRequestComment`], a note with a
//!   `/nomad-spec` command on an issue (`noteable_type: "Issue"`, the issue's `iid`) becomes
//!   [`Trigger::IssueComment`]; the commenter's permission is checked later against the
//!   members API, never taken from the payload.
//!
//! Everything else (branch pipelines off the default branch, tags, schedules off the default
//! branch, notes on issues without a command, on commits or snippets, webhook events that are
//! not notes) is [`Trigger::Ignored`] with a
//! reason a person can read in the job log. A variable or payload that contradicts what GitLab
//! sends is an [`EventError`].
//!
//! `nomad-spec serve` gets the same events straight from a project or group webhook, with no
//! CI variables at all: [`from_gitlab_webhook`] reads a merge request, note or push event from
//! its body alone (<https://docs.gitlab.com/user/project/integrations/webhook_events/>).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Comment, EventError, PullRequest, PullRequestAction, Repository, Trigger};

/// Turns a GitLab job's variables, and the contents of its `TRIGGER_PAYLOAD` file when it has
/// one, into a trigger. `bot_login` is the bot's own login (`NOMAD_SPEC_BOT_LOGIN`), whose
/// notes are marked as the bot's so they are never answered; blank counts as unset.
pub fn from_gitlab(
    vars: &BTreeMap<String, String>,
    trigger_payload: Option<&str>,
    bot_login: Option<&str>,
) -> Result<Trigger, EventError> {
    let source = get(vars, "CI_PIPELINE_SOURCE").ok_or_else(|| EventError {
        event: "GitLab CI".into(),
        detail: "CI_PIPELINE_SOURCE is not set; is this a GitLab CI job?".into(),
    })?;
    match source {
        "merge_request_event" => merge_request_trigger(vars),
        "push" | "web" => push_trigger(vars, source),
        "schedule" => schedule_trigger(vars),
        "trigger" | "pipeline" => match trigger_payload {
            Some(payload) => note_trigger(vars, payload, bot_login),
            None => Ok(Trigger::Ignored {
                reason: format!(
                    "a `{source}` pipeline without TRIGGER_PAYLOAD; comment commands arrive \
                     through a comment webhook that calls the pipeline trigger API"
                ),
            }),
        },
        other => Ok(Trigger::Ignored {
            reason: format!("a `{other}` pipeline is not one nomad-spec acts on"),
        }),
    }
}

/// A variable's value, `None` when unset or blank.
fn get<'a>(vars: &'a BTreeMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn require<'a>(
    vars: &'a BTreeMap<String, String>,
    name: &str,
    event: &str,
) -> Result<&'a str, EventError> {
    get(vars, name).ok_or_else(|| EventError {
        event: event.to_string(),
        detail: format!("{name} is not set, though GitLab sets it in such pipelines"),
    })
}

fn merge_request_trigger(vars: &BTreeMap<String, String>) -> Result<Trigger, EventError> {
    const EVENT: &str = "merge_request_event";
    let iid = require(vars, "CI_MERGE_REQUEST_IID", EVENT)?;
    let number = iid.parse::<u64>().map_err(|_| EventError {
        event: EVENT.into(),
        detail: format!("CI_MERGE_REQUEST_IID={iid:?} is not a number"),
    })?;
    let project_id = get(vars, "CI_MERGE_REQUEST_PROJECT_ID")
        .or_else(|| get(vars, "CI_PROJECT_ID"))
        .ok_or_else(|| EventError {
            event: EVENT.into(),
            detail: "neither CI_MERGE_REQUEST_PROJECT_ID nor CI_PROJECT_ID is set".into(),
        })?;
    // Absent on old GitLab versions: then the source is the project itself.
    let source_project_id = get(vars, "CI_MERGE_REQUEST_SOURCE_PROJECT_ID").unwrap_or(project_id);
    let title = get(vars, "CI_MERGE_REQUEST_TITLE").unwrap_or_default().to_string();
    let draft = match get(vars, "CI_MERGE_REQUEST_DRAFT") {
        Some(value) => value.eq_ignore_ascii_case("true"),
        // Older GitLab versions have no such variable; the title prefix is what marks a draft.
        None => ["draft:", "[draft]", "(draft)"]
            .iter()
            .any(|prefix| title.to_ascii_lowercase().starts_with(prefix)),
    };
    let pull_request = PullRequest {
        number,
        title,
        // Who started the pipeline; the forge's answer names the merge request's author.
        author: get(vars, "GITLAB_USER_LOGIN").unwrap_or_default().to_string(),
        // Set in merged-results pipelines, where CI_COMMIT_SHA is the merge result instead.
        head_sha: match get(vars, "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") {
            Some(sha) => sha.to_string(),
            None => require(vars, "CI_COMMIT_SHA", EVENT)?.to_string(),
        },
        head_ref: require(vars, "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", EVENT)?.to_string(),
        base_ref: require(vars, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME", EVENT)?.to_string(),
        from_fork: source_project_id != project_id,
        draft,
    };
    let full_name = get(vars, "CI_MERGE_REQUEST_PROJECT_PATH")
        .or_else(|| get(vars, "CI_PROJECT_PATH"))
        .ok_or_else(|| EventError {
            event: EVENT.into(),
            detail: "neither CI_MERGE_REQUEST_PROJECT_PATH nor CI_PROJECT_PATH is set".into(),
        })?;
    let repository = Repository {
        full_name: full_name.to_string(),
        default_branch: get(vars, "CI_DEFAULT_BRANCH").unwrap_or("main").to_string(),
    };
    Ok(Trigger::PullRequestChanged {
        repository,
        pull_request,
        action: PullRequestAction::Synchronize,
    })
}

fn push_trigger(vars: &BTreeMap<String, String>, source: &str) -> Result<Trigger, EventError> {
    let default_branch = require(vars, "CI_DEFAULT_BRANCH", source)?;
    let Some(branch) = get(vars, "CI_COMMIT_BRANCH") else {
        let reason = match get(vars, "CI_COMMIT_TAG") {
            Some(tag) => format!("a pipeline for the tag `{tag}`; deploys happen from branches"),
            None => format!("a `{source}` pipeline without CI_COMMIT_BRANCH"),
        };
        return Ok(Trigger::Ignored { reason });
    };
    if branch != default_branch {
        return Ok(Trigger::Ignored {
            reason: format!(
                "a pipeline on `{branch}`; deploys happen from the default branch \
                 `{default_branch}`"
            ),
        });
    }
    Ok(Trigger::PushToDefaultBranch {
        repository: Repository {
            full_name: require(vars, "CI_PROJECT_PATH", source)?.to_string(),
            default_branch: default_branch.to_string(),
        },
        after: require(vars, "CI_COMMIT_SHA", source)?.to_string(),
        // GitLab lists no files; the workflow diffs CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA.
        changed_files: Vec::new(),
    })
}

/// A scheduled pipeline on the default branch compares its job files with the cluster.
fn schedule_trigger(vars: &BTreeMap<String, String>) -> Result<Trigger, EventError> {
    let source = "schedule";
    let default_branch = require(vars, "CI_DEFAULT_BRANCH", source)?;
    match get(vars, "CI_COMMIT_BRANCH") {
        Some(branch) if branch == default_branch => Ok(Trigger::Schedule {
            repository: Repository {
                full_name: require(vars, "CI_PROJECT_PATH", source)?.to_string(),
                default_branch: default_branch.to_string(),
            },
        }),
        Some(branch) => Ok(Trigger::Ignored {
            reason: format!(
                "a `schedule` pipeline on `{branch}`; drift is looked for on the default branch \
                 `{default_branch}`"
            ),
        }),
        None => Ok(Trigger::Ignored {
            reason: "a `schedule` pipeline without CI_COMMIT_BRANCH".to_string(),
        }),
    }
}

fn note_trigger(
    vars: &BTreeMap<String, String>,
    payload: &str,
    bot_login: Option<&str>,
) -> Result<Trigger, EventError> {
    let error = |detail: String| EventError { event: "TRIGGER_PAYLOAD note".into(), detail };
    let kind: KindPayload = super::read(payload)
        .map_err(|err| error(format!("the webhook body is not a JSON object: {err}")))?;
    match kind.object_kind.as_deref() {
        Some("note") => {}
        // A pipeline webhook forwarded to the trigger API, like a note: the image build.
        Some("pipeline") => {
            let hook: PipelineHook = super::read(payload).map_err(|err| EventError {
                event: "TRIGGER_PAYLOAD pipeline".into(),
                detail: err,
            })?;
            return Ok(pipeline_hook(hook));
        }
        Some(other) => {
            return Ok(Trigger::Ignored {
                reason: format!(
                    "TRIGGER_PAYLOAD is a `{other}` event, not a comment (`note`) event"
                ),
            })
        }
        None => {
            return Ok(Trigger::Ignored {
                reason: "TRIGGER_PAYLOAD has no `object_kind`: not a GitLab webhook event".into(),
            })
        }
    }
    let note: NotePayload = super::read(payload).map_err(error)?;
    let attributes = note.object_attributes;
    if let Some(body) = &attributes.note {
        super::within(body, MAX_NOTE_CHARS, "object_attributes.note").map_err(error)?;
    }
    let on_issue = match (attributes.noteable_type.as_str(), &note.issue) {
        ("MergeRequest", _) => None,
        ("Issue", Some(issue)) => Some(issue.iid),
        ("Issue", None) => return Err(error("an issue note without `issue`".into())),
        (other, _) => {
            let what = match other {
                "Commit" => "a commit".to_string(),
                "Snippet" => "a snippet".to_string(),
                other => format!("a `{other}`"),
            };
            return Ok(Trigger::Ignored {
                reason: format!("the comment is on {what}, not on a merge request or an issue"),
            });
        }
    };
    if attributes.system.unwrap_or(false) {
        return Ok(Trigger::Ignored { reason: "a system note carries no answer".into() });
    }
    let edited = match attributes.action.as_deref() {
        // Payloads from before GitLab 16.11 have no action: they were only sent on create.
        None | Some("create") => false,
        Some("update") => true,
        Some(other) => {
            return Ok(Trigger::Ignored {
                reason: format!("note action `{other}` carries no answer"),
            })
        }
    };
    let username = note.user.username;
    let bot_login = bot_login.map(str::trim).filter(|bot| !bot.is_empty());
    let from_bot = bot_login.is_some_and(|bot| bot.eq_ignore_ascii_case(&username))
        || is_access_token_bot(&username);
    let default_branch = note
        .project
        .default_branch
        .or_else(|| get(vars, "CI_DEFAULT_BRANCH").map(str::to_string))
        .unwrap_or_else(|| "main".to_string());
    let repository = Repository { full_name: note.project.path_with_namespace, default_branch };
    let comment = Comment {
        id: attributes.id,
        sender: username.clone(),
        author: username,
        body: attributes.note.unwrap_or_default(),
        edited,
        from_bot,
    };
    if let Some(issue_number) = on_issue {
        return Ok(super::issue_comment_trigger(repository, issue_number, comment));
    }
    let Some(merge_request) = note.merge_request else {
        return Err(error("a merge request note without `merge_request`".into()));
    };
    Ok(Trigger::PullRequestComment { repository, pull_request_number: merge_request.iid, comment })
}

/// Most characters in a GitLab note (GitLab refuses a longer one).
const MAX_NOTE_CHARS: usize = 1_000_000;
/// Turns a GitLab webhook delivery (the `X-Gitlab-Event` header and the JSON body) into a
/// trigger, as `nomad-spec serve` receives it: a merge request opened, reopened, given new
/// commits (`update` with `oldrev`) or merged into the default branch; a note (the same rules
/// as a `TRIGGER_PAYLOAD` note); a push to the default branch, with the files its commits
/// added or modified. Anything else is [`Trigger::Ignored`] with the reason.
pub fn from_gitlab_webhook(
    event: &str,
    body: &str,
    bot_login: Option<&str>,
) -> Result<Trigger, EventError> {
    let error = |detail: String| EventError { event: event.to_string(), detail };
    let kind: KindPayload = serde_json::from_str(body)
        .map_err(|err| error(format!("the webhook body is not a JSON object: {err}")))?;
    match kind.object_kind.as_deref() {
        Some("merge_request") => {
            let payload: MergeRequestHook =
                serde_json::from_str(body).map_err(|err| error(err.to_string()))?;
            Ok(merge_request_hook(payload))
        }
        Some("note") => note_trigger(&BTreeMap::new(), body, bot_login)
            .map_err(|err| EventError { event: event.to_string(), detail: err.detail }),
        Some("push") => {
            let payload: PushHook =
                serde_json::from_str(body).map_err(|err| error(err.to_string()))?;
            Ok(push_hook(payload))
        }
        Some("pipeline") => {
            let payload: PipelineHook = super::read(body).map_err(error)?;
            Ok(pipeline_hook(payload))
        }
        Some(other) => Ok(Trigger::Ignored {
            reason: format!("a GitLab `{other}` event is not one nomad-spec acts on"),
        }),
        None => Ok(Trigger::Ignored {
            reason: format!("a `{event}` delivery without `object_kind` is not a GitLab event"),
        }),
    }
}

fn merge_request_hook(hook: MergeRequestHook) -> Trigger {
    let attributes = hook.object_attributes;
    let repository = Repository {
        default_branch: hook.project.default_branch.unwrap_or_else(|| "main".to_string()),
        full_name: hook.project.path_with_namespace,
    };
    let number = attributes.iid;
    let action = match attributes.action.as_deref() {
        Some("open") => PullRequestAction::Opened,
        Some("reopen") => PullRequestAction::Reopened,
        Some("update") if attributes.oldrev.is_some() => PullRequestAction::Synchronize,
        Some("update") => {
            return Trigger::Ignored {
                reason: format!(
                    "merge request !{number} was edited without new commits (no `oldrev`)"
                ),
            }
        }
        Some("merge") => {
            if attributes.target_branch != repository.default_branch {
                return Trigger::Ignored {
                    reason: format!(
                        "merge request !{number} was merged into `{}`, not the default branch \
                         `{}`",
                        attributes.target_branch, repository.default_branch
                    ),
                };
            }
            let Some(merge_sha) = attributes.merge_commit_sha.clone() else {
                return Trigger::Ignored {
                    reason: format!(
                        "merge request !{number} is merged but the event has no \
                         `merge_commit_sha`"
                    ),
                };
            };
            let pull_request = hook_pull_request(&attributes, &hook.user.username);
            return Trigger::PullRequestMerged { repository, pull_request, merge_sha };
        }
        Some(other) => {
            return Trigger::Ignored {
                reason: format!(
                    "merge request action `{other}` does not change what nomad-spec would do"
                ),
            }
        }
        None => {
            return Trigger::Ignored {
                reason: format!("a merge request event for !{number} without an `action`"),
            }
        }
    };
    let pull_request = hook_pull_request(&attributes, &hook.user.username);
    Trigger::PullRequestChanged { repository, pull_request, action }
}

fn hook_pull_request(attributes: &MergeRequestAttributes, user: &str) -> PullRequest {
    let draft = attributes.draft.or(attributes.work_in_progress).unwrap_or(false);
    PullRequest {
        number: attributes.iid,
        title: attributes.title.clone().unwrap_or_default(),
        // Who caused the event, as for a merge request pipeline; the forge's answer names the
        // author when the conversation needs it.
        author: user.to_string(),
        head_sha: attributes.last_commit.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
        head_ref: attributes.source_branch.clone(),
        base_ref: attributes.target_branch.clone(),
        // A deleted source project is `null`: as on GitHub, nothing of it is trusted.
        from_fork: attributes.source_project_id != Some(attributes.target_project_id),
        draft,
    }
}

fn push_hook(hook: PushHook) -> Trigger {
    let default_branch = hook.project.default_branch.unwrap_or_else(|| "main".to_string());
    let Some(branch) = hook.r#ref.strip_prefix("refs/heads/") else {
        return Trigger::Ignored { reason: format!("`{}` is not a branch", hook.r#ref) };
    };
    if branch != default_branch {
        return Trigger::Ignored {
            reason: format!(
                "push to `{branch}`; deploys happen from the default branch `{default_branch}`"
            ),
        };
    }
    if hook.after.bytes().all(|b| b == b'0') {
        return Trigger::Ignored { reason: format!("the branch `{branch}` was deleted") };
    }
    let mut changed_files: Vec<String> = hook
        .commits
        .unwrap_or_default()
        .into_iter()
        .flat_map(|c| c.added.unwrap_or_default().into_iter().chain(c.modified.unwrap_or_default()))
        .collect();
    changed_files.sort();
    changed_files.dedup();
    Trigger::PushToDefaultBranch {
        repository: Repository { full_name: hook.project.path_with_namespace, default_branch },
        after: hook.after,
        changed_files,
    }
}

/// Project and group access tokens act as bot users named `project_<id>_bot_<suffix>` or
/// `group_<id>_bot_<suffix>` (older ones without the suffix).
fn is_access_token_bot(username: &str) -> bool {
    let Some(rest) = username.strip_prefix("project_").or_else(|| username.strip_prefix("group_"))
    else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with("_bot")
}

#[derive(Deserialize)]
#[serde(expecting = "a GitLab webhook event object")]
struct MergeRequestHook {
    user: UserPayload,
    project: ProjectPayload,
    object_attributes: MergeRequestAttributes,
}

#[derive(Deserialize)]
struct MergeRequestAttributes {
    iid: u64,
    title: Option<String>,
    source_branch: String,
    target_branch: String,
    /// `null` when the source project was deleted.
    source_project_id: Option<u64>,
    target_project_id: u64,
    last_commit: Option<CommitPayload>,
    draft: Option<bool>,
    /// The name before GitLab 16.0 (`draft` since).
    work_in_progress: Option<bool>,
    action: Option<String>,
    /// Present on `update` only when the source branch got new commits.
    oldrev: Option<String>,
    merge_commit_sha: Option<String>,
}

#[derive(Deserialize)]
struct CommitPayload {
    id: String,
}

#[derive(Deserialize)]
struct PushHook {
    r#ref: String,
    after: String,
    project: ProjectPayload,
    commits: Option<Vec<PushCommit>>,
}

#[derive(Deserialize)]
struct PushCommit {
    added: Option<Vec<String>>,
    modified: Option<Vec<String>>,
}

/// A pipeline event (<https://docs.gitlab.com/user/project/integrations/webhook_events/#pipeline-events>)
/// is the image build when it ran the image pipeline's pushing jobs for a push to the default
/// branch and they all finished: succeeded when each did, failed when one failed or was
/// canceled; while one still runs, it is not the end of the build.
fn pipeline_hook(hook: PipelineHook) -> Trigger {
    let repository = Repository {
        default_branch: hook.project.default_branch.unwrap_or_else(|| "main".to_string()),
        full_name: hook.project.path_with_namespace,
    };
    let attributes = hook.object_attributes;
    let image_jobs: Vec<&PipelineBuild> = hook
        .builds
        .iter()
        .filter(|b| b.name.starts_with(super::IMAGE_JOB_PREFIX) && !b.name.ends_with("-check"))
        .collect();
    if image_jobs.is_empty() {
        return Trigger::Ignored {
            reason: format!("pipeline {} ran no image job of nomad-spec", attributes.id),
        };
    }
    if attributes.tag.unwrap_or(false)
        || attributes.r#ref != repository.default_branch
        || attributes.source.as_deref().is_some_and(|s| s != "push")
    {
        return Trigger::Ignored {
            reason: format!(
                "pipeline {} ran for `{}`; only pushes to `{}` publish images",
                attributes.id, attributes.r#ref, repository.default_branch
            ),
        };
    }
    let failed = image_jobs.iter().find(|b| matches!(b.status.as_str(), "failed" | "canceled"));
    let unfinished = image_jobs.iter().find(|b| b.status != "success");
    match (failed, unfinished) {
        (Some(job), _) => Trigger::ImagesBuilt {
            repository,
            commit: attributes.sha,
            succeeded: false,
            outcome: format!("{} {}", job.name, job.status),
        },
        (None, Some(job)) => Trigger::Ignored {
            reason: format!(
                "the image job {} is {}: the build has not finished",
                job.name, job.status
            ),
        },
        (None, None) => Trigger::ImagesBuilt {
            repository,
            commit: attributes.sha,
            succeeded: true,
            outcome: "success".into(),
        },
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a pipeline event object")]
struct PipelineHook {
    object_attributes: PipelineAttributes,
    project: ProjectPayload,
    #[serde(default)]
    builds: Vec<PipelineBuild>,
}

#[derive(Deserialize)]
#[serde(expecting = "a pipeline object")]
struct PipelineAttributes {
    id: u64,
    r#ref: String,
    tag: Option<bool>,
    sha: String,
    source: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a pipeline job object")]
struct PipelineBuild {
    name: String,
    status: String,
}

#[derive(Deserialize)]
struct KindPayload {
    object_kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a note event object")]
struct NotePayload {
    user: UserPayload,
    project: ProjectPayload,
    object_attributes: NoteAttributes,
    merge_request: Option<MergeRequestPayload>,
    issue: Option<IssuePayload>,
}

#[derive(Deserialize)]
#[serde(expecting = "a user object")]
struct UserPayload {
    username: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a project object")]
struct ProjectPayload {
    path_with_namespace: String,
    default_branch: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a note object")]
struct NoteAttributes {
    id: u64,
    note: Option<String>,
    noteable_type: String,
    action: Option<String>,
    system: Option<bool>,
}

#[derive(Deserialize)]
#[serde(expecting = "a merge request object")]
struct MergeRequestPayload {
    iid: u64,
}

#[derive(Deserialize)]
#[serde(expecting = "an issue object")]
struct IssuePayload {
    iid: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables a case sets.
    type Changes = &'static [(&'static str, &'static str)];
    /// What a case expects: a value, or the reason it is ignored.
    type Expect<T> = Result<T, &'static str>;

    fn pipeline(status: &str, jobs: &[(&str, &str)], git_ref: &str) -> String {
        let builds: Vec<String> = jobs
            .iter()
            .map(|(name, status)| {
                format!(r#"{{"name": "{name}", "status": "{status}", "stage": "build"}}"#)
            })
            .collect();
        format!(
            r#"{{"object_kind": "pipeline", "object_attributes": {{"id": 31, "ref": "{git_ref}",
            "tag": false, "sha": "c0ffee", "source": "push", "status": "{status}"}},
            "project": {{"path_with_namespace": "acme/shop", "default_branch": "main"}},
            "builds": [{}]}}"#,
            builds.join(",")
        )
    }

    #[test]
    fn a_pipeline_that_ran_the_image_jobs_is_an_image_build() {
        let read = |body: String| from_gitlab_webhook("Pipeline Hook", &body, None).unwrap();
        let built = read(pipeline(
            "success",
            &[("nomad-spec-image-web", "success"), ("test", "success")],
            "main",
        ));
        assert!(
            matches!(&built, Trigger::ImagesBuilt { succeeded: true, commit, .. } if commit == "c0ffee"),
            "{built:?}"
        );
        let failed = read(pipeline("failed", &[("nomad-spec-image-web", "failed")], "main"));
        assert!(matches!(failed, Trigger::ImagesBuilt { succeeded: false, .. }), "{failed:?}");
        for (body, why) in [
            (
                pipeline("running", &[("nomad-spec-image-web", "running")], "main"),
                "has not finished",
            ),
            (pipeline("success", &[("test", "success")], "main"), "no image job"),
            (
                pipeline("success", &[("nomad-spec-image-web-check", "success")], "main"),
                "no image job",
            ),
            (pipeline("success", &[("nomad-spec-image-web", "success")], "feature"), "only pushes"),
        ] {
            match read(body) {
                Trigger::Ignored { reason } => assert!(reason.contains(why), "{reason}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // The same event forwarded to the trigger API.
        let vars = vars(&[("CI_PIPELINE_SOURCE", "trigger")]);
        let body = pipeline("success", &[("nomad-spec-image-web", "success")], "main");
        let forwarded = from_gitlab(&vars, Some(&body), None).unwrap();
        assert!(matches!(forwarded, Trigger::ImagesBuilt { succeeded: true, .. }), "{forwarded:?}");
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const MR_PIPELINE: &[(&str, &str)] = &[
        ("GITLAB_CI", "true"),
        ("CI_PIPELINE_SOURCE", "merge_request_event"),
        ("CI_PROJECT_ID", "7"),
        ("CI_PROJECT_PATH", "acme/shop"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_COMMIT_SHA", "c0ffee"),
        ("CI_MERGE_REQUEST_IID", "3"),
        ("CI_MERGE_REQUEST_PROJECT_ID", "7"),
        ("CI_MERGE_REQUEST_PROJECT_PATH", "acme/shop"),
        ("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "7"),
        ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "feature"),
        ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main"),
        ("CI_MERGE_REQUEST_TITLE", "Add the api"),
        ("GITLAB_USER_LOGIN", "dev"),
    ];

    fn mr_vars(changes: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut map = vars(MR_PIPELINE);
        for (k, v) in changes {
            map.insert(k.to_string(), v.to_string());
        }
        map
    }

    #[test]
    fn merge_request_pipeline() {
        let t = from_gitlab(&mr_vars(&[]), None, None).map_err(|e| e.to_string());
        insta::assert_debug_snapshot!(t, @r#"
        Ok(
            PullRequestChanged {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
                pull_request: PullRequest {
                    number: 3,
                    title: "Add the api",
                    author: "dev",
                    head_sha: "c0ffee",
                    head_ref: "feature",
                    base_ref: "main",
                    from_fork: false,
                    draft: false,
                },
                action: Synchronize,
            },
        )
        "#);
    }

    #[test]
    fn merge_request_variants() {
        // (changed variables, head_sha, from_fork, draft)
        let cases: &[(Changes, &str, bool, bool)] = &[
            (&[("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "head1")], "head1", false, false),
            (&[("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", "")], "c0ffee", false, false),
            (&[("CI_MERGE_REQUEST_SOURCE_PROJECT_ID", "99")], "c0ffee", true, false),
            (&[("CI_MERGE_REQUEST_DRAFT", "true")], "c0ffee", false, true),
            (&[("CI_MERGE_REQUEST_TITLE", "Draft: api")], "c0ffee", false, true),
            (
                &[("CI_MERGE_REQUEST_TITLE", "Draft: api"), ("CI_MERGE_REQUEST_DRAFT", "false")],
                "c0ffee",
                false,
                false,
            ),
        ];
        for (changes, head_sha, from_fork, draft) in cases {
            let Ok(Trigger::PullRequestChanged { pull_request, .. }) =
                from_gitlab(&mr_vars(changes), None, None)
            else {
                panic!("expected a merge request trigger for {changes:?}");
            };
            assert_eq!(
                (pull_request.head_sha.as_str(), pull_request.from_fork, pull_request.draft),
                (*head_sha, *from_fork, *draft),
                "{changes:?}"
            );
        }
    }

    #[test]
    fn merge_request_pipeline_with_bad_variables_is_a_clear_error() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("CI_MERGE_REQUEST_IID", "three")],
                "the `merge_request_event` event is not what the forge sends: CI_MERGE_REQUEST_IID=\"three\" is not a number",
            ),
            (
                &[("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", " ")],
                "the `merge_request_event` event is not what the forge sends: CI_MERGE_REQUEST_SOURCE_BRANCH_NAME is not set, though GitLab sets it in such pipelines",
            ),
        ];
        for (changes, expected) in cases {
            let err = from_gitlab(&mr_vars(changes), None, None).map(|_| ()).unwrap_err();
            assert_eq!(err.to_string(), *expected);
        }
        let err = from_gitlab(&vars(&[("GITLAB_CI", "true")]), None, None).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("CI_PIPELINE_SOURCE is not set"), "{err}");
    }

    const BRANCH_PIPELINE: &[(&str, &str)] = &[
        ("CI_PROJECT_PATH", "acme/shop"),
        ("CI_DEFAULT_BRANCH", "main"),
        ("CI_COMMIT_SHA", "m1"),
        ("CI_COMMIT_BEFORE_SHA", "b0"),
    ];

    #[test]
    fn branch_pipelines() {
        // (source, extra variables, expected: Some(after) deploys, None is ignored with reason)
        let cases: &[(&str, Changes, Expect<&str>)] = &[
            ("push", &[("CI_COMMIT_BRANCH", "main")], Ok("m1")),
            ("web", &[("CI_COMMIT_BRANCH", "main")], Ok("m1")),
            (
                "push",
                &[("CI_COMMIT_BRANCH", "feature")],
                Err("a pipeline on `feature`; deploys happen from the default branch `main`"),
            ),
            (
                "push",
                &[("CI_COMMIT_TAG", "v1.0")],
                Err("a pipeline for the tag `v1.0`; deploys happen from branches"),
            ),
            (
                "schedule",
                &[("CI_COMMIT_BRANCH", "feature")],
                Err("a `schedule` pipeline on `feature`; drift is looked for on the default branch `main`"),
            ),
            (
                "chat",
                &[("CI_COMMIT_BRANCH", "main")],
                Err("a `chat` pipeline is not one nomad-spec acts on"),
            ),
            (
                "trigger",
                &[("CI_COMMIT_BRANCH", "main")],
                Err("a `trigger` pipeline without TRIGGER_PAYLOAD; comment commands arrive through a comment webhook that calls the pipeline trigger API"),
            ),
        ];
        for (source, extra, expected) in cases {
            let mut map = vars(BRANCH_PIPELINE);
            map.insert("CI_PIPELINE_SOURCE".into(), source.to_string());
            map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            let got = match from_gitlab(&map, None, None) {
                Ok(Trigger::PushToDefaultBranch { after, changed_files, repository }) => {
                    assert!(changed_files.is_empty());
                    assert_eq!(repository.full_name, "acme/shop");
                    Ok(after)
                }
                Ok(Trigger::Ignored { reason }) => Err(reason),
                other => panic!("{source} {extra:?}: unexpected {other:?}"),
            };
            assert_eq!(got.as_deref().map_err(String::as_str), *expected, "{source} {extra:?}");
        }
    }

    fn note_event(noteable_type: &str, action: &str, username: &str) -> String {
        format!(
            r#"{{
              "object_kind": "note", "event_type": "note",
              "user": {{"id": 5, "name": "Dev", "username": "{username}", "email": "[REDACTED]"}},
              "project_id": 7,
              "project": {{"id": 7, "name": "shop", "path_with_namespace": "acme/shop",
                           "default_branch": "main", "web_url": "http://gitlab.example/acme/shop"}},
              "object_attributes": {{"id": 1244, "note": "/nomad-spec plan",
                  "noteable_type": "{noteable_type}", "author_id": 5, "project_id": 7,
                  "noteable_id": 70, "system": false, "action": "{action}",
                  "url": "http://gitlab.example/acme/shop/-/merge_requests/3#note_1244"}},
              "merge_request": {{"id": 70, "iid": 3, "source_branch": "feature",
                  "target_branch": "main", "source_project_id": 7, "target_project_id": 7,
                  "title": "Add the api", "state": "opened", "draft": false,
                  "last_commit": {{"id": "c0ffee", "message": "api"}}}},
              "issue": {{"id": 30, "iid": 12, "title": "Bug"}}
            }}"#
        )
    }

    #[test]
    fn note_on_a_merge_request() {
        let map = vars(&[("CI_PIPELINE_SOURCE", "trigger")]);
        let t = from_gitlab(&map, Some(&note_event("MergeRequest", "create", "dev")), None)
            .map_err(|e| e.to_string());
        insta::assert_debug_snapshot!(t, @r#"
        Ok(
            PullRequestComment {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
                pull_request_number: 3,
                comment: Comment {
                    id: 1244,
                    author: "dev",
                    body: "/nomad-spec plan",
                    edited: false,
                    from_bot: false,
                    sender: "dev",
                },
            },
        )
        "#);
    }

    #[test]
    fn note_variants() {
        // (noteable_type, action, username, bot login variable, expected (edited, from_bot) or
        // the reason it is ignored)
        type Case = (&'static str, &'static str, &'static str, &'static str, Expect<(bool, bool)>);
        let cases: &[Case] = &[
            ("MergeRequest", "update", "dev", "", Ok((true, false))),
            ("MergeRequest", "create", "project_7_bot_3f2a", "", Ok((false, true))),
            ("MergeRequest", "create", "group_12_bot", "", Ok((false, true))),
            ("MergeRequest", "create", "project_manager", "", Ok((false, false))),
            ("MergeRequest", "create", "Nomad-Bot", "nomad-bot", Ok((false, true))),
            (
                "Commit",
                "create",
                "dev",
                "",
                Err("the comment is on a commit, not on a merge request or an issue"),
            ),
            (
                "Snippet",
                "create",
                "dev",
                "",
                Err("the comment is on a snippet, not on a merge request or an issue"),
            ),
            ("MergeRequest", "delete", "dev", "", Err("note action `delete` carries no answer")),
        ];
        for (noteable_type, action, username, bot, expected) in cases {
            let map = vars(&[("CI_PIPELINE_SOURCE", "pipeline")]);
            let payload = note_event(noteable_type, action, username);
            let got = match from_gitlab(&map, Some(&payload), Some(bot)) {
                Ok(Trigger::PullRequestComment { comment, .. }) => {
                    Ok((comment.edited, comment.from_bot))
                }
                Ok(Trigger::Ignored { reason }) => Err(reason),
                other => panic!("{noteable_type} {action}: unexpected {other:?}"),
            };
            assert_eq!(got.as_ref().map_err(String::as_str), expected.as_ref().map_err(|e| *e));
        }
    }

    #[test]
    fn note_on_an_issue() {
        let map = vars(&[("CI_PIPELINE_SOURCE", "trigger")]);
        let issue_note = |body: &str, username: &str| {
            note_event("Issue", "create", username)
                .replace(r#""note": "/nomad-spec plan""#, &format!(r#""note": {body:?}"#))
        };
        let t = from_gitlab(&map, Some(&issue_note("/nomad-spec adopt web", "dev")), None)
            .map_err(|e| e.to_string());
        insta::assert_debug_snapshot!(t, @r#"
        Ok(
            IssueComment {
                repository: Repository {
                    full_name: "acme/shop",
                    default_branch: "main",
                },
                issue_number: 12,
                comment: Comment {
                    id: 1244,
                    author: "dev",
                    body: "/nomad-spec adopt web",
                    edited: false,
                    from_bot: false,
                    sender: "dev",
                },
            },
        )
        "#);
        let ignored = |payload: &str, bot: Option<&str>| match from_gitlab(&map, Some(payload), bot)
        {
            Ok(Trigger::Ignored { reason }) => reason,
            other => panic!("{payload}: unexpected {other:?}"),
        };
        assert_eq!(
            ignored(&issue_note("Looks good to me", "dev"), None),
            "the comment on issue #12 holds no `/nomad-spec` command"
        );
        assert_eq!(
            ignored(&issue_note("/nomad-spec deploy web", "nomad-bot"), Some("nomad-bot")),
            "a comment by the bot nomad-bot on issue #12"
        );
        let no_issue = issue_note("/nomad-spec deploy web", "dev").replace("\"issue\"", "\"x\"");
        let err = from_gitlab(&map, Some(&no_issue), None).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("an issue note without `issue`"), "{err}");
        let bad_iid = issue_note("/nomad-spec deploy web", "dev")
            .replace(r#""iid": 12"#, r#""iid": "twelve""#);
        let err = from_gitlab(&map, Some(&bad_iid), None).map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("field `issue.iid`"), "{err}");
    }

    #[test]
    fn payloads_that_are_not_note_events() {
        let map = vars(&[("CI_PIPELINE_SOURCE", "trigger")]);
        let ignored = |payload: &str| match from_gitlab(&map, Some(payload), None) {
            Ok(Trigger::Ignored { reason }) => reason,
            other => panic!("{payload}: unexpected {other:?}"),
        };
        assert_eq!(
            ignored(r#"{"object_kind": "push", "ref": "refs/heads/main"}"#),
            "TRIGGER_PAYLOAD is a `push` event, not a comment (`note`) event"
        );
        assert_eq!(
            ignored(r#"{"hello": "world"}"#),
            "TRIGGER_PAYLOAD has no `object_kind`: not a GitLab webhook event"
        );
        let system = note_event("MergeRequest", "create", "dev")
            .replace(r#""system": false"#, r#""system": true"#);
        assert_eq!(ignored(&system), "a system note carries no answer");
        // Before GitLab 16.11 a note event had no action: it was a new note.
        let old =
            note_event("MergeRequest", "create", "dev").replace(r#", "action": "create""#, "");
        assert!(matches!(
            from_gitlab(&map, Some(&old), None),
            Ok(Trigger::PullRequestComment { comment: Comment { edited: false, .. }, .. })
        ));
    }

    #[test]
    fn malformed_payloads_are_a_clear_error() {
        let map = vars(&[("CI_PIPELINE_SOURCE", "trigger")]);
        let err = |payload: &str| from_gitlab(&map, Some(payload), None).map(|_| ()).unwrap_err();
        insta::assert_snapshot!(err("{not json").to_string(), @"the `TRIGGER_PAYLOAD note` event is not what the forge sends: the webhook body is not a JSON object: key must be a string at line 1 column 2");
        insta::assert_snapshot!(err(r#"{"object_kind": "note", "user": {"username": "dev"}}"#).to_string(), @"the `TRIGGER_PAYLOAD note` event is not what the forge sends: missing field `project` at line 1 column 52");
        let no_mr =
            note_event("MergeRequest", "create", "dev").replace("\"merge_request\"", "\"x\"");
        assert!(err(&no_mr).to_string().contains("without `merge_request`"));
    }

    /// A merge request hook shaped as in GitLab's webhook events page.
    fn merge_request_hook(action: &str, extra: &str) -> String {
        format!(
            r#"{{"object_kind": "merge_request", "event_type": "merge_request",
            "user": {{"id": 1, "name": "Dev", "username": "dev"}},
            "project": {{"id": 7, "path_with_namespace": "acme/shop", "default_branch": "main",
                "web_url": "https://gitlab.example.com/acme/shop"}},
            "object_attributes": {{"id": 99, "iid": 3, "title": "Add the api",
                "source_branch": "feature", "target_branch": "main",
                "source_project_id": 7, "target_project_id": 7, "state": "opened",
                "last_commit": {{"id": "c0ffee", "message": "x"}},
                "draft": false, "work_in_progress": false,
                "updated_at": "2026-12-06 10:00:00 UTC",
                "action": "{action}"{extra}}}}}"#
        )
    }

    #[test]
    fn merge_request_webhooks() {
        let trigger = |body: &str| from_gitlab_webhook("Merge Request Hook", body, None).unwrap();
        match trigger(&merge_request_hook("open", "")) {
            Trigger::PullRequestChanged { repository, pull_request, action } => {
                assert_eq!(action, PullRequestAction::Opened);
                assert_eq!(repository.full_name, "acme/shop");
                assert_eq!(pull_request.number, 3);
                assert_eq!(pull_request.head_sha, "c0ffee");
                assert_eq!(pull_request.head_ref, "feature");
                assert!(!pull_request.from_fork);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            trigger(&merge_request_hook("update", r#", "oldrev": "beef""#)),
            Trigger::PullRequestChanged { action: PullRequestAction::Synchronize, .. }
        ));
        let ignored = |body: &str| match trigger(body) {
            Trigger::Ignored { reason } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            ignored(&merge_request_hook("update", "")),
            "merge request !3 was edited without new commits (no `oldrev`)"
        );
        assert_eq!(
            ignored(&merge_request_hook("approved", "")),
            "merge request action `approved` does not change what nomad-spec would do"
        );
        match trigger(&merge_request_hook("merge", r#", "merge_commit_sha": "m3rge""#)) {
            Trigger::PullRequestMerged { merge_sha, .. } => assert_eq!(merge_sha, "m3rge"),
            other => panic!("{other:?}"),
        }
        assert!(ignored(&merge_request_hook("merge", "")).contains("no `merge_commit_sha`"));
        let fork = merge_request_hook("open", "")
            .replace(r#""source_project_id": 7"#, r#""source_project_id": 8"#);
        assert!(matches!(
            trigger(&fork),
            Trigger::PullRequestChanged { pull_request: PullRequest { from_fork: true, .. }, .. }
        ));
        let deleted = merge_request_hook("open", "")
            .replace(r#""source_project_id": 7"#, r#""source_project_id": null"#);
        assert!(matches!(
            trigger(&deleted),
            Trigger::PullRequestChanged { pull_request: PullRequest { from_fork: true, .. }, .. }
        ));
    }

    #[test]
    fn push_and_note_webhooks() {
        let push = |r#ref: &str, after: &str| {
            format!(
                r#"{{"object_kind": "push", "ref": "{ref}", "before": "b4", "after": "{after}",
                "project": {{"id": 7, "path_with_namespace": "acme/shop", "default_branch": "main"}},
                "commits": [
                    {{"id": "1", "added": ["deploy/web.nomad.hcl"], "modified": [], "removed": []}},
                    {{"id": "2", "added": [], "modified": ["README.md", "deploy/web.nomad.hcl"]}}
                ]}}"#
            )
        };
        match from_gitlab_webhook("Push Hook", &push("refs/heads/main", "a1"), None).unwrap() {
            Trigger::PushToDefaultBranch { after, changed_files, .. } => {
                assert_eq!(after, "a1");
                assert_eq!(changed_files, ["README.md", "deploy/web.nomad.hcl"]);
            }
            other => panic!("{other:?}"),
        }
        let zeros = "0000000000000000000000000000000000000000";
        for (body, reason) in [
            (push("refs/heads/feature", "a1"), "push to `feature`"),
            (push("refs/tags/v1", "a1"), "`refs/tags/v1` is not a branch"),
            (push("refs/heads/main", zeros), "the branch `main` was deleted"),
        ] {
            match from_gitlab_webhook("Push Hook", &body, None).unwrap() {
                Trigger::Ignored { reason: got } => assert!(got.starts_with(reason), "{got}"),
                other => panic!("{other:?}"),
            }
        }
        let note = note_event("MergeRequest", "create", "dev");
        assert!(matches!(
            from_gitlab_webhook("Note Hook", &note, None).unwrap(),
            Trigger::PullRequestComment { pull_request_number: 3, .. }
        ));
        let bot = note_event("MergeRequest", "create", "nomad-bot");
        assert!(matches!(
            from_gitlab_webhook("Note Hook", &bot, Some("nomad-bot")).unwrap(),
            Trigger::PullRequestComment { comment: Comment { from_bot: true, .. }, .. }
        ));
        match from_gitlab_webhook("Issue Hook", r#"{"object_kind": "issue"}"#, None).unwrap() {
            Trigger::Ignored { reason } => {
                assert_eq!(reason, "a GitLab `issue` event is not one nomad-spec acts on")
            }
            other => panic!("{other:?}"),
        }
        let err =
            from_gitlab_webhook("Merge Request Hook", r#"{"object_kind": "merge_request"}"#, None)
                .unwrap_err();
        assert!(err.to_string().contains("missing field `user`"), "{err}");
        let err = from_gitlab_webhook("Push Hook", "[1, 2]", None).unwrap_err();
        assert!(err.to_string().contains("not a JSON object"), "{err}");
    }
}
