//! The GitHub adapter (`nomad_spec::forge::Forge` for GitHub) against the stateful fake
//! GitHub: comments across pages, edits, reactions, permissions, check runs with many
//! annotations and the commit-status fall back, deployments, idempotent pull requests, rate
//! limits and 5xx, a bad token, webhook payloads read back as triggers, and git over HTTP.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use fakes::github::{FakeGitHub, Fault, NO_COMMIT};
use nomad_spec::checks::{CheckResult, CheckStatus};
use nomad_spec::conversation::{Permission, Reaction};
use nomad_spec::event::{from_github, PullRequest, PullRequestAction, Trigger};
use nomad_spec::forge::{CheckDelivery, DeploymentState, Forge, ForgeKind, RetryPolicy};
use nomad_spec::jobspec::Diagnostic;
use nomad_spec::settings::Settings;

const REPO: &str = "/repos/acme/shop";

/// A fake with `main` holding a Dockerfile, and a pull request from `feature` by `dev`.
fn fake() -> (FakeGitHub, u64) {
    nomad_spec::tls::install_crypto_provider();
    let github = FakeGitHub::start().unwrap_or_else(|e| panic!("{e:#}"));
    github.commit("main", &[("Dockerfile", "FROM nginx\n")], "Initial commit", "octocat").unwrap();
    github.commit("feature", &[("app.py", "print('hi')\n")], "Add the app", "dev").unwrap();
    let number = github.open_pull_request("feature", "Add the app", "dev").unwrap();
    (github, number)
}

fn forge_with(vars: &BTreeMap<String, String>) -> Forge {
    let mut forge = Forge::from_settings(ForgeKind::GitHub, &Settings::from_vars(vars))
        .unwrap_or_else(|e| panic!("{e}"));
    let Forge::GitHub(github) = &mut forge else { panic!("not GitHub") };
    // Waits are capped small; a Retry-After of 1 s is still waited in full where asked.
    github.set_retry_policy(RetryPolicy {
        attempts: 4,
        first_wait: Duration::from_millis(10),
        max_wait: Duration::from_millis(20),
        ..RetryPolicy::default()
    });
    forge
}

fn forge(github: &FakeGitHub) -> Forge {
    forge_with(&github.vars())
}

fn count(github: &FakeGitHub, prefix: &str) -> usize {
    github.requests().iter().filter(|r| r.starts_with(prefix)).count()
}

#[tokio::test]
async fn pull_requests_are_read_and_forks_recognised() {
    let (github, number) = fake();
    let forge = forge(&github);
    assert_eq!(forge.bot_login().await.unwrap(), "github-actions[bot]");
    let pull = forge.pull_request(number).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        pull,
        PullRequest {
            number,
            title: "Add the app".into(),
            author: "dev".into(),
            head_sha: github.head_of("feature").unwrap(),
            head_ref: "feature".into(),
            base_ref: "main".into(),
            from_fork: false,
            draft: false,
        }
    );
    // A push to the branch moves the pull request's head, as on GitHub.
    let pushed = github.commit("feature", &[("b.txt", "b")], "more", "dev").unwrap();
    assert_eq!(forge.pull_request(number).await.unwrap().head_sha, pushed);

    let fork = github
        .open_fork_pull_request("mallory/shop", "patch-1", &[("x", "y")], "Tweak", "mallory")
        .unwrap();
    github.set_draft(fork, true);
    let pull = forge.pull_request(fork).await.unwrap();
    assert!(pull.from_fork && pull.draft, "{pull:?}");
    assert_eq!(pull.head_ref, "patch-1");

    let missing = forge.pull_request(99).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert_eq!(missing.to_string(), "GitHub GET /repos/acme/shop/pulls/99: Not Found");
}

#[tokio::test]
async fn comments_come_from_every_page_oldest_first() {
    let (github, number) = fake();
    let mut ids = Vec::new();
    for i in 0..230 {
        let author = if i % 2 == 0 { "dev" } else { "ops" };
        ids.push(github.post_comment(number, author, &format!("comment {i}")).unwrap());
    }
    let comments = forge(&github).comments(number).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(comments.iter().map(|c| c.id).collect::<Vec<_>>(), ids);
    assert_eq!(comments[229].body, "comment 229");
    assert_eq!(comments[1].author, "ops");
    assert_eq!(count(&github, &format!("GET {REPO}/issues/{number}/comments")), 3);

    // GitHub Enterprise Server: the API under /api/v3, and the Link header keeps it.
    let mut vars = github.vars();
    vars.insert("GITHUB_API_URL".into(), format!("{}/api/v3", github.url()));
    let comments = forge_with(&vars).comments(number).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(comments.len(), 230);
    let enterprise = format!("GET /api/v3{REPO}/issues/{number}/comments");
    assert_eq!(count(&github, &enterprise), 3, "{:?}", github.requests());
}

#[tokio::test]
async fn a_comment_is_created_then_edited() {
    let (github, number) = fake();
    let forge = forge(&github);
    let id = forge.create_comment(number, "Analyzing…").await.unwrap_or_else(|e| panic!("{e}"));
    forge.edit_comment(number, id, "Found 1 service").await.unwrap_or_else(|e| panic!("{e}"));
    let stored = github.comments(number);
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].id, stored[0].author.as_str()), (id, "github-actions[bot]"));
    assert_eq!(stored[0].body, "Found 1 service");
    let listed = forge.comments(number).await.unwrap();
    assert_eq!((listed[0].id, listed[0].author.as_str()), (id, "github-actions[bot]"));
    assert_eq!(github.write_count("create_comment"), 1);
    assert_eq!(github.write_count("edit_comment"), 1);

    let gone = forge.edit_comment(number, 424242, "x").await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    let too_long = forge.create_comment(number, &"x".repeat(70_000)).await.unwrap_err();
    assert_eq!(too_long.status, Some(422));
    assert!(too_long.message.contains("maximum is 65536 characters"), "{too_long}");
}

#[tokio::test]
async fn reacting_twice_leaves_one_reaction() {
    let (github, number) = fake();
    let forge = forge(&github);
    let id = github.post_comment(number, "dev", "/nomad-spec accept").unwrap();
    forge.react(number, id, Reaction::PlusOne).await.unwrap_or_else(|e| panic!("{e}"));
    forge.react(number, id, Reaction::PlusOne).await.unwrap_or_else(|e| panic!("{e}"));
    forge.react(number, id, Reaction::Confused).await.unwrap_or_else(|e| panic!("{e}"));
    let contents: Vec<String> = github.reactions(id).into_iter().map(|r| r.content).collect();
    assert_eq!(contents, ["+1", "confused"]);
}

#[tokio::test]
async fn permissions_come_from_the_api() {
    let (github, _) = fake();
    for (login, role) in [
        ("ada", "admin"),
        ("max", "maintain"),
        ("wes", "write"),
        ("tia", "triage"),
        ("rea", "read"),
        ("nia", "none"),
        ("renovate[bot]", "write"),
    ] {
        github.add_user(login, role);
    }
    let forge = forge(&github);
    let mut seen = Vec::new();
    for login in ["ada", "max", "wes", "tia", "rea", "nia", "renovate[bot]", "stranger"] {
        seen.push(forge.permission(login).await.unwrap_or_else(|e| panic!("{login}: {e}")));
    }
    use Permission::*;
    assert_eq!(seen, [Admin, Maintain, Write, Triage, Read, None, Write, None]);
}

fn diagnostics(n: usize) -> Vec<Diagnostic> {
    (0..n)
        .map(|i| {
            Diagnostic::error("deploy/shop.nomad.hcl", i as u32 + 1, 1, format!("problem {i}"))
        })
        .collect()
}

fn validate(status: CheckStatus, annotations: Vec<Diagnostic>) -> CheckResult {
    CheckResult {
        name: "nomad-spec/validate".into(),
        status,
        summary: format!("{} problems", annotations.len()),
        annotations,
    }
}

#[tokio::test]
async fn a_check_run_carries_all_120_annotations() {
    let (github, number) = fake();
    let forge = forge(&github);
    let sha = github.pull(number).unwrap().head_sha;
    let check = validate(CheckStatus::Failure, diagnostics(120));
    let delivery = forge.report_check(&sha, &check, "## Details\n").await;
    let delivery = delivery.unwrap_or_else(|e| panic!("{e}"));
    let runs = github.check_runs(&sha);
    assert_eq!(runs.len(), 1);
    assert_eq!(delivery, CheckDelivery::CheckRun { id: runs[0].id });
    let run = &runs[0];
    assert_eq!((run.status.as_str(), run.conclusion.as_deref()), ("completed", Some("failure")));
    assert_eq!(run.summary.as_deref(), Some("120 problems\n\n## Details"));
    assert_eq!(run.annotations.len(), 120);
    let messages: Vec<&str> = run.annotations.iter().map(|a| a.message.as_str()).collect();
    assert_eq!(messages[0], "problem 0");
    assert_eq!(messages[119], "problem 119");
    assert_eq!(run.annotations[5].start_line, 6);
    assert_eq!(run.annotations[5].level, "failure");
    // One create and two updates of 50 + 50 + 20.
    assert_eq!(github.write_count("create_check_run"), 1);
    assert_eq!(github.write_count("update_check_run"), 2);

    // Run again with findings: a new run, so the old annotations are not shown twice.
    let again = validate(CheckStatus::Failure, diagnostics(3));
    forge.report_check(&sha, &again, "").await.unwrap_or_else(|e| panic!("{e}"));
    let runs = github.check_runs(&sha);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].annotations.len(), 3);
}

#[tokio::test]
async fn a_second_report_of_the_same_check_updates_it() {
    let (github, number) = fake();
    let forge = forge(&github);
    let sha = github.pull(number).unwrap().head_sha;
    let first = CheckResult::skipped("nomad-spec/plan", "NOMAD_ADDR is not set");
    let one = forge.report_check(&sha, &first, "").await.unwrap_or_else(|e| panic!("{e}"));
    let second = CheckResult {
        name: "nomad-spec/plan".into(),
        status: CheckStatus::Success,
        summary: "1 to place".into(),
        annotations: Vec::new(),
    };
    let two = forge.report_check(&sha, &second, "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one, two);
    let runs = github.check_runs(&sha);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].conclusion.as_deref(), Some("success"));
    assert_eq!(runs[0].title.as_deref(), Some("1 to place"));
    assert_eq!(github.write_count("create_check_run"), 1);
    assert_eq!(github.write_count("update_check_run"), 1);
}

#[tokio::test]
async fn without_checks_permission_statuses_are_used_for_the_rest_of_the_run() {
    let (github, number) = fake();
    github.forbid_check_runs(true);
    let forge = forge(&github);
    let sha = github.pull(number).unwrap().head_sha;
    let failing = validate(CheckStatus::Failure, diagnostics(2));
    let delivery = forge.report_check(&sha, &failing, "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delivery, CheckDelivery::CommitStatus);
    let skipped = CheckResult::skipped("nomad-spec/secrets", "VAULT_ADDR is not set");
    let delivery = forge.report_check(&sha, &skipped, "").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(delivery, CheckDelivery::CommitStatus);

    let statuses: Vec<(String, String, String)> = github
        .statuses(&sha)
        .into_iter()
        .map(|s| (s.context, s.state, s.description.unwrap_or_default()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("nomad-spec/validate".into(), "failure".into(), "2 problems".into()),
            (
                "nomad-spec/secrets".into(),
                "success".into(),
                "skipped: VAULT_ADDR is not set".into()
            ),
        ]
    );
    // The 403 was taken at once, and check runs were not tried again.
    assert_eq!(count(&github, &format!("GET {REPO}/commits/{sha}/check-runs")), 1);
    assert_eq!(count(&github, &format!("POST {REPO}/check-runs")), 0);
    assert!(github.check_runs(&sha).is_empty());
}

#[tokio::test]
async fn a_deployment_is_recorded_with_its_statuses() {
    let (github, _) = fake();
    let forge = forge(&github);
    let sha = github.head_of("main").unwrap();
    let id = forge.start_deployment(&sha, "main", "production").await;
    let id = id.unwrap_or_else(|e| panic!("{e}"));
    forge
        .update_deployment(id, DeploymentState::Success, "healthy: 2 of 2 allocations")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deployments = github.deployments();
    assert_eq!(deployments.len(), 1);
    let deployment = &deployments[0];
    assert_eq!((deployment.id, deployment.sha.as_str()), (id, sha.as_str()));
    assert_eq!(deployment.environment, "production");
    let states: Vec<&str> = deployment.statuses.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["in_progress", "success"]);
    assert_eq!(deployment.statuses[1].description.as_deref(), Some("healthy: 2 of 2 allocations"));
    let long = "x".repeat(300);
    forge
        .update_deployment(id, DeploymentState::Failure, &long)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(github.deployments()[0].statuses[2].state, "failure");
}

#[tokio::test]
async fn opening_the_same_pull_request_twice_gives_the_same_number() {
    let (github, _) = fake();
    github
        .commit("nomad-spec/fix", &[("deploy/shop.nomad.hcl", "job \"shop\" {}\n")], "Fix", "bot")
        .unwrap();
    let forge = forge(&github);
    let first = forge.open_change_request("nomad-spec/fix", "main", "Fix the job", "Why").await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    let second = forge.open_change_request("nomad-spec/fix", "main", "Fix the job", "Why").await;
    assert_eq!(second.unwrap_or_else(|e| panic!("{e}")), first);
    let opened = github.pulls_by_bot();
    assert_eq!(opened.len(), 1);
    assert_eq!((opened[0].number, opened[0].head_ref.as_str()), (first, "nomad-spec/fix"));
    assert_eq!(github.write_count("create_pull"), 1);

    let nothing = forge.open_change_request("main", "main", "Nothing", "").await.unwrap_err();
    assert_eq!(nothing.status, Some(422));
    assert!(nothing.message.contains("No commits between main and main"), "{nothing}");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let (github, number) = fake();
    let mut forge = forge(&github);
    let Forge::GitHub(client) = &mut forge else { panic!("not GitHub") };
    client.set_retry_policy(RetryPolicy {
        attempts: 4,
        max_wait: Duration::from_secs(5),
        ..RetryPolicy::default()
    });
    github.fail_next(1, &format!("{REPO}/pulls"), Fault::TooManyRequests);
    let started = Instant::now();
    let pull = forge.pull_request(number).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pull.number, number);
    // Behaviour, not speed: the client waited the Retry-After second before trying again.
    assert!(started.elapsed() >= Duration::from_secs(1), "{:?}", started.elapsed());
    assert_eq!(count(&github, &format!("GET {REPO}/pulls/{number}")), 2);

    github.fail_next(1, &format!("{REPO}/issues"), Fault::RateLimitExhausted);
    let id =
        forge.create_comment(number, "after the reset").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(github.comments(number).iter().map(|c| c.id).collect::<Vec<_>>(), [id]);
    assert_eq!(count(&github, &format!("POST {REPO}/issues/{number}/comments")), 2);
}

#[tokio::test]
async fn server_errors_are_retried_without_duplicates() {
    let (github, number) = fake();
    let forge = forge(&github);
    github.fail_next(1, &format!("{REPO}/pulls"), Fault::ServerError);
    github.fail_next(1, &format!("{REPO}/pulls"), Fault::BadGateway);
    assert_eq!(forge.pull_request(number).await.unwrap_or_else(|e| panic!("{e}")).number, number);
    assert_eq!(count(&github, &format!("GET {REPO}/pulls/{number}")), 3);

    // A comment whose POST failed is looked for before it is sent again.
    github.fail_next(1, &format!("{REPO}/issues/{number}/comments"), Fault::ServerError);
    forge.create_comment(number, "once").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(github.comments(number).len(), 1);
    assert_eq!(github.write_count("create_comment"), 1);

    // Every attempt failing ends in GitHub's words and the attempt count.
    github.fail_next(4, &format!("{REPO}/pulls"), Fault::ServerError);
    let err = forge.pull_request(number).await.unwrap_err();
    assert_eq!(err.status, Some(500));
    assert!(err.message.starts_with("Server Error (4 tries in "), "{err}");
}

#[tokio::test]
async fn a_bad_token_is_a_clear_error_without_the_token() {
    let (github, number) = fake();
    let mut vars = github.vars();
    let wrong = "ghs_WrongTokenThatMustNeverBePrinted";
    vars.insert("GITHUB_TOKEN".into(), wrong.into());
    let forge = forge_with(&vars);
    let err = forge.pull_request(number).await.unwrap_err();
    assert_eq!(err.status, Some(401));
    assert!(err.is_forbidden());
    assert_eq!(err.to_string(), format!("GitHub GET {REPO}/pulls/{number}: Bad credentials"));
    assert!(!format!("{err:?} {forge:?}").contains(wrong));

    vars.remove("GITHUB_TOKEN");
    let missing = Forge::from_settings(ForgeKind::GitHub, &Settings::from_vars(&vars)).unwrap_err();
    assert!(missing.message.contains("GITHUB_TOKEN is not set"), "{missing}");
}

fn trigger(event: (String, String)) -> Trigger {
    from_github(&event.0, &event.1).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn webhook_payloads_read_back_as_triggers() {
    let (github, number) = fake();
    let head_sha = github.pull(number).unwrap().head_sha;
    match trigger(github.pull_request_event(number, "opened").unwrap()) {
        Trigger::PullRequestChanged { repository, pull_request, action } => {
            assert_eq!(
                (repository.full_name.as_str(), repository.default_branch.as_str()),
                ("acme/shop", "main")
            );
            assert_eq!(action, PullRequestAction::Opened);
            assert_eq!(
                (pull_request.head_sha.as_str(), pull_request.from_fork),
                (head_sha.as_str(), false)
            );
        }
        other => panic!("{other:?}"),
    }
    let fork = github
        .open_fork_pull_request("mallory/shop", "main", &[("x", "1")], "Hi", "mallory")
        .unwrap();
    match trigger(github.pull_request_event(fork, "synchronize").unwrap()) {
        Trigger::PullRequestChanged { pull_request, action, .. } => {
            assert_eq!(action, PullRequestAction::Synchronize);
            assert!(pull_request.from_fork);
        }
        other => panic!("{other:?}"),
    }

    let answer = github.post_comment(number, "dev", "/nomad-spec accept").unwrap();
    match trigger(github.issue_comment_event(answer, "created").unwrap()) {
        Trigger::PullRequestComment { pull_request_number, comment, .. } => {
            assert_eq!(pull_request_number, number);
            assert_eq!((comment.id, comment.author.as_str()), (answer, "dev"));
            assert_eq!(
                (comment.body.as_str(), comment.edited, comment.from_bot),
                ("/nomad-spec accept", false, false)
            );
        }
        other => panic!("{other:?}"),
    }
    let status = forge(&github).create_comment(number, "status").await.unwrap();
    github.edit_comment(status, "status\n- [x] accept").unwrap();
    match trigger(github.issue_comment_event(status, "edited").unwrap()) {
        Trigger::PullRequestComment { comment, .. } => {
            assert!(comment.edited && comment.from_bot, "{comment:?}");
            assert_eq!(comment.body, "status\n- [x] accept");
        }
        other => panic!("{other:?}"),
    }
    let (_, payload) = github.issue_comment_event(status, "edited").unwrap();
    assert!(payload.contains(r#""changes":{"body":{"from":"status"}}"#), "{payload}");

    let before = github.head_of("main").unwrap();
    let merge_sha = github.merge_pull_request(number).unwrap();
    assert_eq!(github.head_of("main").unwrap(), merge_sha);
    assert_eq!(github.read_file("main", "app.py").as_deref(), Some("print('hi')\n"));
    match trigger(github.pull_request_event(number, "closed").unwrap()) {
        Trigger::PullRequestMerged { merge_sha: sha, pull_request, .. } => {
            assert_eq!(sha, merge_sha);
            assert_eq!(pull_request.number, number);
        }
        other => panic!("{other:?}"),
    }
    match trigger(github.push_event("main", &before, &merge_sha).unwrap()) {
        Trigger::PushToDefaultBranch { after, changed_files, .. } => {
            assert_eq!(after, merge_sha);
            assert_eq!(changed_files, ["app.py"]);
        }
        other => panic!("{other:?}"),
    }
    let created = trigger(github.push_event("feature", NO_COMMIT, &head_sha).unwrap());
    assert!(matches!(created, Trigger::Ignored { .. }), "{created:?}");
}

/// git in `dir` (the fakes' helper); the error is git's stderr.
fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    fakes::git_http::git(dir, args).map_err(|err| format!("{err:#}"))
}

#[tokio::test]
async fn git_over_http_takes_the_token() {
    let (github, number) = fake();
    let forge = forge(&github);
    let remote = forge.git_remote();
    assert_eq!(remote.url, github.clone_url());
    assert_eq!(remote.username, "x-access-token");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();

    // Without credentials the fake challenges (401) and git, unable to prompt, gives up.
    let refused = git(dir, &["clone", "--quiet", &remote.url, "anonymous"]).unwrap_err();
    assert!(refused.contains("could not read Username"), "{refused}");
    let wrong = remote.url.replacen("http://", "http://x-access-token:wrong@", 1);
    let refused = git(dir, &["clone", "--quiet", &wrong, "wrong"]).unwrap_err();
    assert!(refused.contains("Authentication failed"), "{refused}");

    let authed = remote.url.replacen(
        "http://",
        &format!("http://{}:{}@", remote.username, remote.token.as_str()),
        1,
    );
    git(dir, &["clone", "--quiet", &authed, "clone"]).unwrap_or_else(|e| panic!("{e}"));
    let clone = dir.join("clone");
    assert_eq!(std::fs::read_to_string(clone.join("Dockerfile")).unwrap(), "FROM nginx\n");
    let pull_ref = forge.change_request_ref(number);
    git(&clone, &["fetch", "--quiet", "origin", &pull_ref]).unwrap_or_else(|e| panic!("{e}"));
    let fetched = git(&clone, &["rev-parse", "FETCH_HEAD"]).unwrap();
    assert_eq!(fetched.trim(), github.pull(number).unwrap().head_sha);

    github.protect_default_branch().unwrap();
    git(
        &clone,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@x",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            "x",
        ],
    )
    .unwrap();
    let rejected = git(&clone, &["push", "origin", "HEAD:refs/heads/main"]).unwrap_err();
    assert!(rejected.contains("GH006: Protected branch update failed"), "{rejected}");
    git(&clone, &["push", "--quiet", "origin", "HEAD:refs/heads/nomad-spec/fix"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(github.head_of("nomad-spec/fix").is_ok());
}

#[tokio::test]
async fn issues_are_opened_edited_closed_and_reopened_and_pull_requests_left_out() {
    let (github, number) = fake();
    let forge = forge(&github);
    let before = github.open_issue("dev", "A person's issue", "hello");
    let opened = forge.create_issue("Drift", "drift body").await.unwrap_or_else(|e| panic!("{e}"));
    assert!(opened > number && opened > before, "issues and pulls share numbers");
    let listed = forge.issues().await.unwrap_or_else(|e| panic!("{e}"));
    let numbers: Vec<(u64, &str, bool)> =
        listed.iter().map(|i| (i.number, i.author.as_str(), i.open)).collect();
    assert_eq!(numbers, [(opened, "github-actions[bot]", true), (before, "dev", true)]);
    assert!(listed.iter().all(|i| i.number != number), "the pull request is no issue");

    forge.edit_issue(opened, "new body", None).await.unwrap();
    forge.edit_issue(opened, "closed body", Some(false)).await.unwrap();
    let issue = github.issues().into_iter().find(|i| i.number == opened).unwrap();
    assert_eq!((issue.body.as_str(), issue.state.as_str()), ("closed body", "closed"));
    let closed = forge.issues().await.unwrap();
    assert!(closed.iter().any(|i| i.number == opened && !i.open));
    forge.edit_issue(opened, "back", Some(true)).await.unwrap();
    let issue = github.issues().into_iter().find(|i| i.number == opened).unwrap();
    assert_eq!(issue.state, "open");
    let missing = forge.edit_issue(999, "x", None).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}
