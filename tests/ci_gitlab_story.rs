//! The same bot as a GitLab CI job, end to end: the real `nomad-spec ci` binary against a fake
//! GitLab (REST under `CI_API_V4_URL`, git over HTTP under `CI_SERVER_URL`) and a fake Nomad,
//! with the variables GitLab CI sets for each pipeline.
//!
//! The story: merge request pipeline → status note with questions → a comment webhook triggers
//! a pipeline whose `TRIGGER_PAYLOAD` carries the answer → commit (pushed with `ci.skip`) →
//! commit statuses → merge → default-branch pipeline deploys → OOM → fix commit → healthy.
//! Then every pipeline runs again and nothing changes. Around it: a Reporter's comment, a note
//! on an issue, a missing write token, GitLab 5xx and 429, a fork merge request.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::bot::{failed, ok, question_number, PROBLEM_MARKER, STATUS_MARKER};
use fakes::gitlab::{FakeGitLab, Fault, DEVELOPER, REPORTER};
use fakes::nomad::{FakeNomad, JobRule, Scenario};

const JOB_FILE: &str = "deploy/shop.nomad.hcl";

struct Story {
    gitlab: FakeGitLab,
    nomad: FakeNomad,
    bot: String,
    dir: tempfile::TempDir,
}

impl Story {
    fn new(scenario: Scenario) -> Story {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::write(seed.join("README.md"), "# shop\n").unwrap();
        let gitlab = FakeGitLab::start("acme/shop", "main", &seed).unwrap();
        gitlab.add_user("dev", Some(DEVELOPER));
        gitlab.add_user("rita", Some(REPORTER));
        let (bot, _token) = gitlab.add_project_access_token(DEVELOPER);
        let nomad = FakeNomad::start(scenario).unwrap();
        Story { gitlab, nomad, bot, dir }
    }

    fn open(&self) -> u64 {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
        self.gitlab.open_merge_request("dev", "add-app", &fixture, "Add the shop").unwrap()
    }

    fn run(&self, vars: &BTreeMap<String, String>) -> Output {
        self.run_with(vars, &[])
    }

    fn run_with(&self, vars: &BTreeMap<String, String>, extra: &[(&str, &str)]) -> Output {
        let mut vars = vars.clone();
        vars.insert("NOMAD_ADDR".into(), self.nomad.url());
        // These stories are about a person answering the image question; the image pipeline
        // that answers it by default has its own story (tests/image_pipeline_story.rs).
        vars.insert("NOMAD_SPEC_IMAGE_PIPELINE".into(), "false".into());
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        vars.retain(|_, v| !v.is_empty());
        Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .arg("ci")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(&vars)
            .output()
            .unwrap()
    }

    fn comment(&self, iid: u64, author: &str, body: &str) -> BTreeMap<String, String> {
        let note = self.gitlab.post_note(author, iid, body).unwrap();
        self.gitlab.note_pipeline_vars(note).unwrap()
    }

    fn status_notes(&self, iid: u64) -> Vec<String> {
        self.gitlab
            .notes(iid)
            .into_iter()
            .filter(|(author, body)| *author == self.bot && body.contains(STATUS_MARKER))
            .map(|(_, body)| body)
            .collect()
    }

    fn status(&self, iid: u64) -> String {
        let notes = self.status_notes(iid);
        assert_eq!(notes.len(), 1, "exactly one status note: {notes:#?}");
        notes.into_iter().next().unwrap()
    }

    /// The bot's notes saying what went wrong in a run.
    fn problems(&self, iid: u64) -> Vec<String> {
        self.gitlab
            .notes(iid)
            .into_iter()
            .filter(|(author, body)| *author == self.bot && body.starts_with(PROBLEM_MARKER))
            .map(|(_, body)| body)
            .collect()
    }

    fn replies(&self, iid: u64) -> Vec<String> {
        self.gitlab
            .notes(iid)
            .into_iter()
            .filter(|(author, body)| *author == self.bot && !body.contains(STATUS_MARKER))
            .map(|(_, body)| body)
            .collect()
    }

    fn snapshot(&self) -> (Vec<u32>, String, usize) {
        let kinds = ["note_created", "note_edited", "status", "deployment_created", "award"];
        (
            kinds.iter().map(|k| self.gitlab.writes(k)).collect(),
            self.gitlab.head_of("main").unwrap(),
            self.nomad.register_calls("shop"),
        )
    }
}

#[test]
fn the_whole_story_and_its_replay() {
    let story = Story::new(Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(100)));
    let gitlab = &story.gitlab;
    let iid = story.open();

    // 1. The merge request pipeline: one status note with the questions.
    let mr_pipeline = gitlab.mr_pipeline_vars(iid).unwrap();
    ok(&story.run(&mr_pipeline));
    let status = story.status(iid);
    assert!(status.contains("needs your answer"), "{status}");
    let image = question_number(&status, "image.");

    // 2. A comment pipeline (webhook → trigger API) with the answer.
    let answered = story.comment(iid, "dev", &format!("{image}: registry.acme.dev/shop:1.4"));
    ok(&story.run(&answered));
    let mr = gitlab.merge_request(iid).unwrap();
    let job_file =
        git_show(gitlab, &mr.source_branch, JOB_FILE).expect("the job file was committed");
    assert!(job_file.contains("registry.acme.dev/shop:1.4"), "{job_file}");
    assert!(
        gitlab.push_options().iter().any(|options| options.contains(&"ci.skip".to_string())),
        "the bot's push carries ci.skip: {:?}",
        gitlab.push_options()
    );
    let head = gitlab.head_of("add-app").unwrap();
    let statuses = gitlab.statuses(&head);
    for name in
        ["nomad-spec/validate", "nomad-spec/secrets", "nomad-spec/routes", "nomad-spec/plan"]
    {
        assert!(statuses.contains_key(name), "{name} on {head}: {statuses:?}");
    }
    assert_eq!(statuses["nomad-spec/validate"].state, "success");
    assert_eq!(statuses["nomad-spec/plan"].state, "success");

    // 3. Merge; the default-branch pipeline deploys, fixes the OOM and reports.
    gitlab.merge(iid, "dev").unwrap();
    let main_pipeline = gitlab.default_branch_pipeline_vars("dev").unwrap();
    let out = ok(&story.run(&main_pipeline));
    let main_file = git_show(gitlab, "main", JOB_FILE).unwrap();
    assert!(!main_file.contains("memory = 64"), "the fix is on main:\n{main_file}\n{out}");
    assert_eq!(story.nomad.register_calls("shop"), 2, "{out}");
    assert!(story.replies(iid).iter().any(|r| r.contains("healthy")), "{:#?}", story.replies(iid));
    let deployments = gitlab.deployments();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].status, "success", "{deployments:?}");

    // 4. Every pipeline again: nothing changes.
    let before = story.snapshot();
    for vars in [&mr_pipeline, &answered, &main_pipeline] {
        ok(&story.run(vars));
        assert_eq!(story.snapshot(), before);
    }
    assert_eq!(story.status_notes(iid).len(), 1);
}

fn git_show(gitlab: &FakeGitLab, branch: &str, path: &str) -> Option<String> {
    fakes::git_http::read_file(&gitlab.project().bare, branch, path)
}

#[test]
fn a_reporter_is_refused_once_and_cannot_answer() {
    let story = Story::new(Scenario::default());
    let iid = story.open();
    ok(&story.run(&story.gitlab.mr_pipeline_vars(iid).unwrap()));
    for body in ["/nomad-spec accept", "/nomad-spec set memory.shop=4096"] {
        ok(&story.run(&story.comment(iid, "rita", body)));
    }
    let refusals: Vec<String> =
        story.replies(iid).into_iter().filter(|r| r.contains("rita")).collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(git_show(&story.gitlab, "add-app", JOB_FILE).is_none());
}

#[test]
fn a_note_on_an_issue_is_ignored() {
    let story = Story::new(Scenario::default());
    let issue = story.gitlab.add_issue("a bug");
    let note = story.gitlab.post_issue_note("dev", issue, "/nomad-spec accept").unwrap();
    let vars = story.gitlab.note_pipeline_vars(note).unwrap();
    let out = ok(&story.run(&vars));
    assert!(out.contains("ignored"), "{out}");
    assert_eq!(story.gitlab.writes("note_created"), 0);
}

#[test]
fn a_missing_write_token_names_the_variable() {
    let story = Story::new(Scenario::default());
    let iid = story.open();
    let mut vars = story.gitlab.mr_pipeline_vars(iid).unwrap();
    vars.remove("NOMAD_SPEC_GITLAB_TOKEN");
    let output = story.run(&vars);
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("NOMAD_SPEC_GITLAB_TOKEN"), "{text}");
    assert_eq!(story.gitlab.writes("note_created"), 0);
}

#[test]
fn gitlab_errors_and_rate_limits_are_retried_without_double_posting() {
    let story = Story::new(Scenario::default());
    let iid = story.open();
    story.gitlab.fail_next(1, Fault::RateLimited { retry_after: 1 });
    story.gitlab.fail_next(1, Fault::ServerError);
    ok(&story.run(&story.gitlab.mr_pipeline_vars(iid).unwrap()));
    assert_eq!(story.status_notes(iid).len(), 1);
}

#[test]
fn a_fork_merge_request_never_pushes_or_deploys() {
    let story = Story::new(Scenario::default());
    let files = story.dir.path().join("fork");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("Dockerfile"), "FROM nginx:1.27\nEXPOSE 80\n").unwrap();
    story.gitlab.add_user("eve", None);
    let iid = story.gitlab.open_fork_merge_request("eve", "patch", &files, "From a fork").unwrap();
    // A fork's pipeline runs in the fork without the project's variables: no write token.
    let output = story.run(&story.gitlab.mr_pipeline_vars(iid).unwrap());
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(text.contains("NOMAD_SPEC_GITLAB_TOKEN"), "{text}");
    assert!(story.gitlab.push_options().is_empty(), "no push");
    assert!(story.gitlab.deployments().is_empty());
}

#[test]
fn a_protected_default_branch_gets_a_fix_merge_request() {
    let story = Story::new(Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(100)));
    let gitlab = &story.gitlab;
    let iid = story.open();
    ok(&story.run(&gitlab.mr_pipeline_vars(iid).unwrap()));
    ok(&story.run(&story.comment(iid, "dev", "/nomad-spec accept")));
    gitlab.merge(iid, "dev").unwrap();
    gitlab.protect_branch("main").unwrap();
    let main_before = gitlab.head_of("main").unwrap();
    let out = ok(&story.run(&gitlab.default_branch_pipeline_vars("dev").unwrap()));
    assert_eq!(gitlab.head_of("main").unwrap(), main_before, "nothing pushed to main: {out}");
    let fixes = gitlab.merge_requests_by(&story.bot);
    assert_eq!(fixes.len(), 1, "one fix merge request: {out}");
    assert_eq!(fixes[0].target_branch, "main");
    let reply = story.replies(iid).into_iter().find(|r| r.contains("protected"));
    assert!(reply.is_some_and(|r| r.contains(&format!("#{}", fixes[0].iid))), "{out}");
    assert_eq!(story.nomad.register_calls("shop"), 1, "the fix waits for its merge");
}

#[test]
fn an_author_pushing_meanwhile_is_never_overwritten() {
    let story = Story::new(Scenario::default());
    let gitlab = &story.gitlab;
    let iid = story.open();
    ok(&story.run(&gitlab.mr_pipeline_vars(iid).unwrap()));
    let answered = story.comment(iid, "dev", "/nomad-spec accept");
    // The author pushes after the comment, before the pipeline runs: the bot builds on top.
    let files = story.dir.path().join("later");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("NOTES.md"), "later\n").unwrap();
    gitlab.push_to_merge_request(iid, &files, "the author's later commit").unwrap();
    ok(&story.run(&answered));
    assert!(git_show(gitlab, "add-app", JOB_FILE).is_some());
    assert_eq!(git_show(gitlab, "add-app", "NOTES.md").as_deref(), Some("later\n"));
}

#[test]
fn a_direct_push_of_a_job_file_is_deployed_from_the_diff() {
    let story = Story::new(Scenario::default());
    let gitlab = &story.gitlab;
    let files = story.dir.path().join("direct");
    std::fs::create_dir_all(files.join("deploy")).unwrap();
    let job = "job \"shop\" {\n  group \"web\" {\n    task \"web\" {\n      driver = \"docker\"\n\n      config {\n        image = \"nginx:1.27\"\n      }\n    }\n  }\n}\n";
    std::fs::write(files.join(JOB_FILE), job).unwrap();
    gitlab.commit_to_branch("main", &files, "deploy the shop", "dev").unwrap();
    // GitLab lists no changed files: the bot reads them from CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA.
    let out = ok(&story.run(&gitlab.default_branch_pipeline_vars("dev").unwrap()));
    assert_eq!(story.nomad.register_calls("shop"), 1, "{out}");
    let deployments = gitlab.deployments();
    assert_eq!(deployments.len(), 1, "{out}");
    assert_eq!(deployments[0].status, "success");
}

#[test]
fn a_problem_the_person_can_fix_is_one_note_until_it_is_fixed() {
    let story = Story::new(Scenario::default());
    let gitlab = &story.gitlab;
    let iid = story.open();
    let files = story.dir.path().join("broken");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join(".nomad-spec.toml"), "bogus = true\n").unwrap();
    gitlab.push_to_merge_request(iid, &files, "conventions").unwrap();
    let pipeline = gitlab.mr_pipeline_vars(iid).unwrap();
    let out = failed(&story.run(&pipeline));
    let problems = story.problems(iid);
    assert_eq!(problems.len(), 1, "{out}");
    assert!(problems[0].contains(".nomad-spec.toml") && problems[0].contains("bogus"), "{out}");
    let token = &pipeline["NOMAD_SPEC_GITLAB_TOKEN"];
    assert!(!problems[0].contains(token.as_str()));

    // The same pipeline again: one note, not even edited.
    let writes = |kind| gitlab.writes(kind);
    let before = (writes("note_created"), writes("note_edited"));
    failed(&story.run(&pipeline));
    assert_eq!((writes("note_created"), writes("note_edited")), before);

    // Fixed: the next pipeline goes through and the note says so.
    std::fs::write(files.join(".nomad-spec.toml"), "datacenters = [\"dc1\"]\n").unwrap();
    gitlab.push_to_merge_request(iid, &files, "fix the conventions").unwrap();
    ok(&story.run(&gitlab.mr_pipeline_vars(iid).unwrap()));
    let problems = story.problems(iid);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("solved"), "{}", problems[0]);
    story.status(iid);
}

#[test]
fn an_internal_failure_points_at_the_job_log_and_stays_one_note() {
    let story = Story::new(Scenario::default());
    let gitlab = &story.gitlab;
    let iid = story.open();
    let pipeline = gitlab.mr_pipeline_vars(iid).unwrap();
    // The branch disappears before the job runs: the clone fails, through nobody's mistake.
    let bare = gitlab.project().bare;
    fakes::git_http::git(&bare, &["update-ref", "-d", "refs/heads/add-app"]).unwrap();
    let job = "https://gitlab.example.com/acme/shop/-/jobs/41";
    let out = failed(&story.run_with(&pipeline, &[("CI_JOB_URL", job)]));
    assert!(out.contains("refs/heads/add-app"), "the log has the whole chain: {out}");
    let problems = story.problems(iid);
    assert_eq!(problems.len(), 1, "{out}");
    assert!(problems[0].contains(job) && !problems[0].contains("refs/heads"), "{}", problems[0]);

    // The job retried: still one note, pointing at the new log.
    let retried = "https://gitlab.example.com/acme/shop/-/jobs/42";
    failed(&story.run_with(&pipeline, &[("CI_JOB_URL", retried)]));
    let problems = story.problems(iid);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains(retried), "{}", problems[0]);
    assert!(story.status_notes(iid).is_empty());
}
