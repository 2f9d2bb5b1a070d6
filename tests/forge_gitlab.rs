//! The GitLab adapter against the fake GitLab, pointed at it through `CI_API_V4_URL` and
//! `CI_SERVER_URL` as at a self-managed instance: notes across pages, award emoji, permissions
//! from member access levels, commit statuses, deployments, merge requests, rate limits and
//! server errors, token problems, the CI variables of each kind of pipeline through
//! `from_gitlab`, and git over the fake's smart-HTTP with the token and `ci.skip`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use fakes::gitlab::{FakeGitLab, Fault, DEVELOPER, MAINTAINER, REPORTER};
use nomad_spec::checks::{CheckResult, CheckStatus};
use nomad_spec::conversation::{Permission, Reaction};
use nomad_spec::event::gitlab::from_gitlab;
use nomad_spec::event::{PullRequestAction, Trigger};
use nomad_spec::forge::gitlab::GitLab;
use nomad_spec::forge::{CheckDelivery, DeploymentState, RetryPolicy};
use nomad_spec::settings::Settings;

struct World {
    gitlab: FakeGitLab,
    bot: String,
    bot_token: String,
    _seed: tempfile::TempDir,
}

fn files(pairs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in pairs {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// A project `acme/shop` with a developer, a reporter, a maintainer, a stranger (no member)
/// and the bot's project access token (Developer).
fn world() -> World {
    nomad_spec::tls::install_crypto_provider();
    let seed = files(&[("Dockerfile", "FROM nginx\nEXPOSE 80\n")]);
    let gitlab = FakeGitLab::start("acme/shop", "main", seed.path()).unwrap();
    gitlab.add_user("dev", Some(DEVELOPER));
    gitlab.add_user("reader", Some(REPORTER));
    gitlab.add_user("lead", Some(MAINTAINER));
    gitlab.add_user("stranger", None);
    let (bot, bot_token) = gitlab.add_project_access_token(DEVELOPER);
    World { gitlab, bot, bot_token, _seed: seed }
}

/// Retries quickly: waits are capped at 50 ms.
fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        first_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

fn client(world: &World) -> GitLab {
    let vars = world.gitlab.default_branch_pipeline_vars("dev").unwrap();
    GitLab::from_settings(&Settings::from_vars(&vars)).unwrap().with_retry(fast())
}

fn open_mr(world: &World, author: &str, branch: &str) -> u64 {
    let change = files(&[("api/app.py", "print('hi')\n")]);
    world.gitlab.open_merge_request(author, branch, change.path(), "Add the api").unwrap()
}

fn check(name: &str, status: CheckStatus, summary: &str) -> CheckResult {
    CheckResult { name: name.into(), status, summary: summary.into(), annotations: Vec::new() }
}

#[tokio::test]
async fn bot_login_and_merge_requests() {
    let world = world();
    let gitlab = client(&world);
    assert_eq!(gitlab.bot_login().await.unwrap(), world.bot);
    assert_eq!(gitlab.bot_login().await.unwrap(), world.bot);
    let user_calls = world.gitlab.requests().iter().filter(|r| *r == "GET /api/v4/user").count();
    assert_eq!(user_calls, 1, "the login is asked once");

    let iid = open_mr(&world, "dev", "feature");
    let mr = gitlab.pull_request(iid).await.unwrap();
    assert_eq!(
        (mr.number, mr.author.as_str(), mr.head_ref.as_str(), mr.base_ref.as_str()),
        (iid, "dev", "feature", "main")
    );
    assert_eq!(mr.head_sha, world.gitlab.merge_request(iid).unwrap().sha);
    assert!(!mr.from_fork && !mr.draft);

    let change = files(&[("web/index.html", "<p>hi</p>\n")]);
    let fork = world.gitlab.open_fork_merge_request("dev", "patch", change.path(), "Fix").unwrap();
    assert!(gitlab.pull_request(fork).await.unwrap().from_fork);

    let err = gitlab.pull_request(99).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.what, format!("GET /projects/{}/merge_requests/99", world.gitlab.project().id));
}

#[tokio::test]
async fn notes_across_pages_without_system_notes() {
    let world = world();
    let gitlab = client(&world);
    let iid = open_mr(&world, "dev", "feature");
    for n in 0..130 {
        world
            .gitlab
            .post_note(if n % 2 == 0 { "dev" } else { "reader" }, iid, &format!("note {n}"))
            .unwrap();
    }
    world.gitlab.post_system_note(iid, "added 1 commit");
    let comments = gitlab.comments(iid).await.unwrap();
    assert_eq!(comments.len(), 130);
    assert_eq!(comments[0].body, "note 0");
    assert_eq!(comments[129].body, "note 129");
    assert_eq!((comments[1].author.as_str(), comments[2].author.as_str()), ("reader", "dev"));
    assert!(comments.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    let pages = world.gitlab.requests().iter().filter(|r| r.ends_with("/notes")).count();
    assert_eq!(pages, 2);
}

#[tokio::test]
async fn status_note_created_once_then_edited_in_place() {
    let world = world();
    let gitlab = client(&world);
    let iid = open_mr(&world, "dev", "feature");
    let id = gitlab.create_comment(iid, "<!-- nomad-spec:state -->\nfirst").await.unwrap();
    gitlab.edit_comment(iid, id, "<!-- nomad-spec:state -->\nsecond").await.unwrap();
    assert_eq!(
        world.gitlab.notes(iid),
        [(world.bot.clone(), "<!-- nomad-spec:state -->\nsecond".to_string())]
    );
    assert_eq!((world.gitlab.writes("note_created"), world.gitlab.writes("note_edited")), (1, 1));

    // Someone else's note is not the bot's to edit.
    let theirs = world.gitlab.post_note("dev", iid, "mine").unwrap();
    let err = gitlab.edit_comment(iid, theirs, "hijacked").await.unwrap_err();
    assert!(err.is_forbidden(), "{err}");
    assert_eq!(world.gitlab.note(theirs).unwrap().body, "mine");
}

#[tokio::test]
async fn award_emoji_twice_leaves_one() {
    let world = world();
    let gitlab = client(&world);
    let iid = open_mr(&world, "dev", "feature");
    let note = world.gitlab.post_note("dev", iid, "/nomad-spec plan").unwrap();
    gitlab.react(iid, note, Reaction::PlusOne).await.unwrap();
    gitlab.react(iid, note, Reaction::PlusOne).await.unwrap();
    gitlab.react(iid, note, Reaction::Confused).await.unwrap();
    assert_eq!(
        world.gitlab.awards(note),
        [(world.bot.clone(), "thumbsup".to_string()), (world.bot.clone(), "confused".to_string())]
    );
    assert_eq!(world.gitlab.writes("award"), 2);
    assert!(gitlab.react(iid, 424242, Reaction::PlusOne).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn permission_from_member_access_levels() {
    let world = world();
    let gitlab = client(&world);
    let cases = [
        ("dev", Permission::Write),
        ("DEV", Permission::Write),
        ("lead", Permission::Maintain),
        ("reader", Permission::Read),
        ("stranger", Permission::None),
        ("nobody-at-all", Permission::None),
    ];
    for (login, expected) in cases {
        assert_eq!(gitlab.permission(login).await.unwrap(), expected, "{login}");
    }
    assert!(!gitlab.permission("reader").await.unwrap().may_drive());
}

#[tokio::test]
async fn commit_statuses_per_check_name() {
    let world = world();
    let gitlab = client(&world);
    let iid = open_mr(&world, "dev", "feature");
    let sha = world.gitlab.merge_request(iid).unwrap().sha;
    let long = "x".repeat(400);
    for result in [
        check("nomad-spec/validate", CheckStatus::Success, "The job file is valid."),
        check("nomad-spec/plan", CheckStatus::Failure, &long),
        check("nomad-spec/secrets", CheckStatus::Skipped, "Vault is not configured."),
        check("nomad-spec/routes", CheckStatus::Success, "No route conflicts."),
        check("nomad-spec/validate", CheckStatus::Failure, "2 errors."),
    ] {
        let delivery = gitlab.report_check(&sha, &result, "details").await.unwrap();
        assert_eq!(delivery, CheckDelivery::CommitStatus);
    }
    let statuses = world.gitlab.statuses(&sha);
    let states: BTreeMap<&str, &str> =
        statuses.iter().map(|(name, s)| (name.as_str(), s.state.as_str())).collect();
    assert_eq!(
        states,
        BTreeMap::from([
            ("nomad-spec/plan", "failed"),
            ("nomad-spec/routes", "success"),
            ("nomad-spec/secrets", "skipped"),
            ("nomad-spec/validate", "failed"),
        ])
    );
    let plan = statuses["nomad-spec/plan"].description.clone().unwrap();
    assert_eq!(plan.chars().count(), 255);
    assert_eq!(statuses["nomad-spec/validate"].description.as_deref(), Some("2 errors."));

    let err = gitlab.report_check(&"0".repeat(40), &statuses_check(), "").await.unwrap_err();
    assert!(err.is_not_found() && err.message.contains("References for commit"), "{err}");
}

fn statuses_check() -> CheckResult {
    check("nomad-spec/validate", CheckStatus::Success, "ok")
}

#[tokio::test]
async fn deployment_record() {
    let world = world();
    let gitlab = client(&world);
    let sha = world.gitlab.head_of("main").unwrap();
    let id = gitlab.start_deployment(&sha, "refs/heads/main", "nomad").await.unwrap();
    gitlab.update_deployment(id, DeploymentState::Success, "healthy").await.unwrap();
    let deployments = world.gitlab.deployments();
    assert_eq!(deployments.len(), 1);
    let d = &deployments[0];
    assert_eq!(
        (d.id, d.environment.as_str(), d.sha.as_str(), d.git_ref.as_str()),
        (id, "nomad", sha.as_str(), "main")
    );
    assert_eq!(d.history, ["running", "success"]);
    assert!(gitlab
        .update_deployment(id + 1000, DeploymentState::Failure, "")
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn opening_a_merge_request_twice_gives_the_same_one() {
    let world = world();
    let gitlab = client(&world);
    let fix = files(&[("deploy/shop.nomad.hcl", "job \"shop\" {}\n")]);
    world.gitlab.commit_to_branch("nomad-spec/fix", fix.path(), "Fix memory", &world.bot).unwrap();
    let first =
        gitlab.open_change_request("nomad-spec/fix", "main", "Fix memory", "Why").await.unwrap();
    let second =
        gitlab.open_change_request("nomad-spec/fix", "main", "Fix memory", "Why").await.unwrap();
    assert_eq!(first, second);
    assert_eq!(world.gitlab.writes("merge_request_created"), 1);
    let opened = world.gitlab.merge_requests_by(&world.bot);
    assert_eq!(opened.len(), 1);
    assert_eq!((opened[0].iid, opened[0].description.as_str()), (first, "Why"));

    let err = gitlab.open_change_request("no-such-branch", "main", "x", "y").await.unwrap_err();
    assert_eq!(err.status, Some(400), "{err}");
}

#[tokio::test]
async fn the_merged_merge_request_of_a_commit() {
    let world = world();
    let gitlab = client(&world);
    let before = world.gitlab.head_of("main").unwrap();
    let iid = open_mr(&world, "dev", "feature");
    let head = world.gitlab.merge_request(iid).unwrap().sha;
    assert_eq!(gitlab.merged_change_request(&head).await.unwrap(), None, "not merged yet");
    let merge = world.gitlab.merge(iid, "lead").unwrap();
    assert_eq!(world.gitlab.head_of("main").unwrap(), merge);
    assert_eq!(gitlab.merged_change_request(&merge).await.unwrap(), Some(iid));
    assert_eq!(gitlab.merged_change_request(&head).await.unwrap(), Some(iid));
    assert_eq!(gitlab.merged_change_request(&before).await.unwrap(), None);
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried() {
    let world = world();
    let gitlab = client(&world);
    let iid = open_mr(&world, "dev", "feature");

    world.gitlab.fail_next(2, Fault::RateLimited { retry_after: 1 });
    assert_eq!(gitlab.pull_request(iid).await.unwrap().number, iid);
    world.gitlab.fail_next(1, Fault::ServerError);
    assert!(gitlab.comments(iid).await.unwrap().is_empty());
    // A note is posted again after a 429 (nothing was done), never after a 500.
    world.gitlab.fail_next(1, Fault::RateLimited { retry_after: 0 });
    gitlab.create_comment(iid, "once").await.unwrap();
    world.gitlab.fail_next(1, Fault::ServerError);
    let err = gitlab.create_comment(iid, "twice?").await.unwrap_err();
    assert_eq!(err.status, Some(500), "{err}");
    assert_eq!(world.gitlab.notes(iid).len(), 1);

    world.gitlab.fail_next(10, Fault::RateLimited { retry_after: 30 });
    let err = gitlab.pull_request(iid).await.unwrap_err();
    assert_eq!(err.status, Some(429));
    assert!(err.message.contains("GitLab's rate limit (4 tries in "), "{err}");
    world.gitlab.change(|state| state.faults.clear());
}

#[tokio::test]
async fn token_problems_are_clear_and_never_show_the_token() {
    let world = world();
    let mut vars = world.gitlab.mr_pipeline_vars(open_mr(&world, "dev", "feature")).unwrap();
    vars.remove("NOMAD_SPEC_GITLAB_TOKEN");
    let err = GitLab::from_settings(&Settings::from_vars(&vars)).unwrap_err();
    assert!(err.to_string().contains("NOMAD_SPEC_GITLAB_TOKEN is not set"), "{err}");
    assert!(err.message.contains("Developer") && err.message.contains("`api`"), "{err}");

    vars.insert("NOMAD_SPEC_GITLAB_TOKEN".into(), "glpat-wrong-secret-value".into());
    let gitlab = GitLab::from_settings(&Settings::from_vars(&vars)).unwrap().with_retry(fast());
    let err = gitlab.bot_login().await.unwrap_err();
    assert_eq!(err.status, Some(401));
    assert!(err.is_forbidden());
    let text = err.to_string();
    assert!(
        text.contains("401 Unauthorized") && text.contains("NOMAD_SPEC_GITLAB_TOKEN"),
        "{text}"
    );
    assert!(
        !text.contains("glpat-wrong-secret-value") && !format!("{err:?}").contains("glpat-wrong")
    );
    assert!(!format!("{gitlab:?}").contains("glpat-wrong"));

    // A token with too small a role: GitLab's 403 and what the token needs.
    let (_, reporter_token) = world.gitlab.add_project_access_token(REPORTER);
    vars.insert("NOMAD_SPEC_GITLAB_TOKEN".into(), reporter_token.clone());
    let gitlab = GitLab::from_settings(&Settings::from_vars(&vars)).unwrap();
    let sha = world.gitlab.head_of("main").unwrap();
    let err = gitlab.report_check(&sha, &statuses_check(), "").await.unwrap_err();
    assert!(err.is_forbidden() && err.message.contains("Developer role"), "{err}");
    assert!(!err.to_string().contains(&reporter_token));
    assert_eq!(world.gitlab.writes("status"), 0);
    let _ = &world.bot_token;
}

#[test]
fn pipeline_variables_become_triggers() {
    let world = world();
    let iid = open_mr(&world, "dev", "feature");
    let mr = world.gitlab.merge_request(iid).unwrap();

    let Ok(Trigger::PullRequestChanged { repository, pull_request, action }) =
        from_gitlab(&world.gitlab.mr_pipeline_vars(iid).unwrap(), None, None)
    else {
        panic!("a merge request pipeline is a merge request trigger");
    };
    assert_eq!(
        (repository.full_name.as_str(), repository.default_branch.as_str()),
        ("acme/shop", "main")
    );
    assert_eq!((pull_request.number, pull_request.head_sha.as_str()), (iid, mr.sha.as_str()));
    assert_eq!((pull_request.from_fork, action), (false, PullRequestAction::Synchronize));

    let note = world.gitlab.post_note("dev", iid, "/nomad-spec plan").unwrap();
    let vars = world.gitlab.note_pipeline_vars(note).unwrap();
    let payload = std::fs::read_to_string(&vars["TRIGGER_PAYLOAD"]).unwrap();
    let Ok(Trigger::PullRequestComment { pull_request_number, comment, .. }) =
        from_gitlab(&vars, Some(&payload), None)
    else {
        panic!("a note on a merge request is a comment trigger");
    };
    assert_eq!((pull_request_number, comment.id, comment.author.as_str()), (iid, note, "dev"));
    assert_eq!(
        (comment.body.as_str(), comment.edited, comment.from_bot),
        ("/nomad-spec plan", false, false)
    );

    // A Reporter's comment is still a comment: the workflow checks permission later.
    let theirs = world.gitlab.post_note("reader", iid, "/nomad-spec accept").unwrap();
    world.gitlab.edit_note(theirs, "/nomad-spec accept please").unwrap();
    let vars = world.gitlab.note_pipeline_vars(theirs).unwrap();
    let payload = std::fs::read_to_string(&vars["TRIGGER_PAYLOAD"]).unwrap();
    let Ok(Trigger::PullRequestComment { comment, .. }) = from_gitlab(&vars, Some(&payload), None)
    else {
        panic!("a reporter's note is a comment trigger");
    };
    assert_eq!((comment.author.as_str(), comment.edited), ("reader", true));

    // A command on an issue is the drift issue's business (the workflow checks which issue);
    // talk on an issue is ignored.
    let issue = world.gitlab.add_issue("Bug");
    let on_issue = world.gitlab.post_issue_note("dev", issue, "/nomad-spec plan").unwrap();
    let vars = world.gitlab.note_pipeline_vars(on_issue).unwrap();
    let payload = std::fs::read_to_string(&vars["TRIGGER_PAYLOAD"]).unwrap();
    let Ok(Trigger::IssueComment { issue_number, comment, .. }) =
        from_gitlab(&vars, Some(&payload), None)
    else {
        panic!("a command on an issue is an issue comment trigger");
    };
    assert_eq!((issue_number, comment.author.as_str()), (issue, "dev"));
    let talk = world.gitlab.post_issue_note("dev", issue, "Seen on Monday too.").unwrap();
    let vars = world.gitlab.note_pipeline_vars(talk).unwrap();
    let payload = std::fs::read_to_string(&vars["TRIGGER_PAYLOAD"]).unwrap();
    let Ok(Trigger::Ignored { reason }) = from_gitlab(&vars, Some(&payload), None) else {
        panic!("talk on an issue is ignored");
    };
    assert_eq!(reason, format!("the comment on issue #{issue} holds no `/nomad-spec` command"));

    // After the merge, the default branch's pipeline deploys the merge commit.
    let merge = world.gitlab.merge(iid, "lead").unwrap();
    let vars = world.gitlab.default_branch_pipeline_vars("lead").unwrap();
    assert_eq!(vars["CI_COMMIT_BEFORE_SHA"], mr.base_sha);
    let Ok(Trigger::PushToDefaultBranch { after, changed_files, .. }) =
        from_gitlab(&vars, None, None)
    else {
        panic!("a pipeline on the default branch is a push trigger");
    };
    assert_eq!((after, changed_files.len()), (merge, 0));

    // A fork's pipeline runs in the fork, without the project's write token.
    let change = files(&[("x.txt", "x\n")]);
    let fork =
        world.gitlab.open_fork_merge_request("reader", "patch", change.path(), "Fork").unwrap();
    let vars = world.gitlab.mr_pipeline_vars(fork).unwrap();
    let Ok(Trigger::PullRequestChanged { pull_request, repository, .. }) =
        from_gitlab(&vars, None, None)
    else {
        panic!("a fork's merge request pipeline is a merge request trigger");
    };
    assert!(pull_request.from_fork);
    assert_eq!(repository.full_name, "acme/shop");
    assert!(!vars.contains_key("NOMAD_SPEC_GITLAB_TOKEN"));
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .unwrap()
}

#[test]
fn git_over_http_with_the_token_and_ci_skip() {
    let world = world();
    let vars = world.gitlab.default_branch_pipeline_vars("dev").unwrap();
    let remote = GitLab::from_settings(&Settings::from_vars(&vars)).unwrap().git_remote();
    assert_eq!(remote.url, world.gitlab.clone_url());
    assert_eq!(
        (remote.username.as_str(), remote.token.as_str()),
        ("oauth2", world.bot_token.as_str())
    );
    assert_eq!(remote.push_options, ["ci.skip"]);

    let work = tempfile::tempdir().unwrap();
    let anonymous = git(work.path(), &["clone", "--quiet", &remote.url, "anonymous"]);
    assert!(!anonymous.status.success());

    let with_token = remote.url.replacen(
        "http://",
        &format!("http://{}:{}@", remote.username, remote.token.as_str()),
        1,
    );
    let cloned = git(work.path(), &["clone", "--quiet", &with_token, "clone"]);
    assert!(cloned.status.success(), "{}", String::from_utf8_lossy(&cloned.stderr));
    let clone = work.path().join("clone");
    assert_eq!(
        std::fs::read_to_string(clone.join("Dockerfile")).unwrap(),
        "FROM nginx\nEXPOSE 80\n"
    );

    std::fs::write(clone.join("job.nomad.hcl"), "job \"shop\" {}\n").unwrap();
    assert!(git(&clone, &["add", "."]).status.success());
    let commit =
        git(&clone, &["-c", "user.name=bot", "-c", "user.email=b@x", "commit", "-qm", "Add job"]);
    assert!(commit.status.success());
    let mut push = vec!["push", "--quiet"];
    for option in &remote.push_options {
        push.extend(["-o", option.as_str()]);
    }
    push.extend(["origin", "HEAD:refs/heads/nomad-spec/job"]);
    let pushed = git(&clone, &push);
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));
    assert_eq!(world.gitlab.push_options(), [["ci.skip"]]);

    world.gitlab.protect_branch("main").unwrap();
    let refused = git(&clone, &["push", "origin", "HEAD:refs/heads/main"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains(fakes::gitlab::PROTECTED_BRANCH_MESSAGE), "{stderr}");

    // A reporter may clone but not push.
    let reader = world.gitlab.token_of("reader").unwrap();
    let reader_url = remote.url.replacen("http://", &format!("http://oauth2:{reader}@"), 1);
    let as_reader = git(work.path(), &["clone", "--quiet", &reader_url, "reader"]);
    assert!(as_reader.status.success());
    let denied = git(&work.path().join("reader"), &["push", "origin", "HEAD:refs/heads/x"]);
    assert!(!denied.status.success());
}

#[tokio::test]
async fn issues_are_opened_edited_closed_and_reopened() {
    let world = world();
    let gitlab = client(&world);
    let theirs = world.gitlab.add_issue("A person's issue");
    let opened = gitlab.create_issue("Drift", "drift body").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(opened, theirs + 1);
    let listed = gitlab.issues().await.unwrap_or_else(|e| panic!("{e}"));
    let mine = listed.iter().find(|i| i.number == opened).unwrap();
    assert_eq!(
        (mine.author.as_str(), mine.open, mine.body.as_str()),
        (world.bot.as_str(), true, "drift body")
    );
    assert_eq!(listed.len(), 2);

    gitlab.edit_issue(opened, "closed body", Some(false)).await.unwrap();
    let issue = world.gitlab.issues().into_iter().find(|i| i.iid == opened).unwrap();
    assert_eq!((issue.description.as_str(), issue.state.as_str()), ("closed body", "closed"));
    assert!(gitlab.issues().await.unwrap().iter().any(|i| i.number == opened && !i.open));
    gitlab.edit_issue(opened, "back", Some(true)).await.unwrap();
    let issue = world.gitlab.issues().into_iter().find(|i| i.iid == opened).unwrap();
    assert_eq!((issue.description.as_str(), issue.state.as_str()), ("back", "opened"));
    let missing = gitlab.edit_issue(999, "x", None).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}
