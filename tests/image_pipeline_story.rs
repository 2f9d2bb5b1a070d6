//! From source to a running image (issue 17), end to end on each forge: the real
//! `nomad-spec ci` binary against a fake forge, a fake Nomad and a fake OCI registry.
//!
//! The story: a repository with only a Dockerfile → the pull request gets the job file and the
//! image pipeline in one commit, with no question needing an answer → merge: nothing is
//! deployed, the bot waits for the merge commit's image build → a failed build is said and
//! deploys nothing → a build that pushed nothing deploys nothing → the build of the merge
//! commit, its image in the registry: the job file on the default branch pins it
//! ("nomad-spec: deploy <service> <sha>") and the job runs healthy → every event again changes
//! nothing. Then a merge that leaves the build context alone keeps the running image.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

mod common;

use common::bot::{ok, run_ci, STATUS_MARKER};
use fakes::github::FakeGitHub;
use fakes::gitlab::{FakeGitLab, DEVELOPER};
use fakes::nomad::{FakeNomad, Scenario};
use fakes::registry::{FakeRegistry, Login};
use serde_json::Value;

const JOB_FILE: &str = "deploy/shop.nomad.hcl";
const WORKFLOW: &str = ".github/workflows/nomad-spec-images.yml";

/// The files a commit changed, as git lists them.
fn files_of_commit(bare: &Path, commit: &str) -> Vec<String> {
    let listed = fakes::git_http::git(bare, &["show", "--name-only", "--format=", commit]).unwrap();
    let mut files: Vec<String> = listed.lines().map(str::to_string).collect();
    files.sort();
    files
}

/// The image a job file runs.
fn image_in(job_file: &str) -> String {
    let start = job_file.find("image = \"").expect("the job names an image") + 9;
    job_file[start..].split('"').next().unwrap().to_string()
}

struct GitHubStory {
    github: FakeGitHub,
    nomad: FakeNomad,
    registry: FakeRegistry,
    dir: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

impl GitHubStory {
    fn new() -> GitHubStory {
        let github = FakeGitHub::start().unwrap();
        github.add_user("alice", "write");
        github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
        let files = common::files_of(&fixture);
        let files: Vec<(&str, &str)> =
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        github.commit("add-app", &files, "add the app", "alice").unwrap();
        let registry = FakeRegistry::start(Login {
            username: "x-access-token".into(),
            password: fakes::github::DEFAULT_TOKEN.into(),
        })
        .unwrap();
        GitHubStory {
            github,
            nomad: FakeNomad::start(Scenario::default()).unwrap(),
            registry,
            dir: tempfile::tempdir().unwrap(),
            runs: std::cell::Cell::new(0),
        }
    }

    fn run(&self, (name, payload): &(String, String)) -> Output {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let event_path = self.dir.path().join(format!("event-{n}.json"));
        std::fs::write(&event_path, payload).unwrap();
        let mut vars: BTreeMap<String, String> = self.github.vars();
        vars.insert("GITHUB_ACTIONS".into(), "true".into());
        vars.insert("GITHUB_EVENT_NAME".into(), name.clone());
        vars.insert("GITHUB_EVENT_PATH".into(), event_path.display().to_string());
        vars.insert("NOMAD_ADDR".into(), self.nomad.url());
        vars.insert("NOMAD_SPEC_REGISTRY_URL".into(), self.registry.url());
        run_ci(self.dir.path(), &vars)
    }

    fn bot_comments(&self, number: u64) -> Vec<String> {
        self.github.bot_comments(number)
    }

    fn build_finished(&self, sha: &str, conclusion: &str) -> (String, String) {
        self.github
            .workflow_run_event("completed", WORKFLOW, "main", sha, "push", Some(conclusion))
            .unwrap()
    }

    fn snapshot(&self) -> (BTreeMap<String, u64>, Vec<String>, usize, usize) {
        (
            self.github.writes(),
            self.github.log_subjects("main").unwrap(),
            self.nomad.register_calls("shop"),
            self.registry.tags("acme/shop/shop").len(),
        )
    }
}

#[test]
fn github_a_dockerfile_becomes_a_pinned_healthy_job_with_no_reply() {
    let story = GitHubStory::new();
    let github = &story.github;
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    let mut events = Vec::new();

    // 1. Opened: the job file and the pipeline in one commit; nothing needs an answer.
    let opened = github.pull_request_event(pr, "opened").unwrap();
    let out = ok(&story.run(&opened));
    events.push(opened);
    let comments = story.bot_comments(pr);
    let status = comments.iter().find(|c| c.contains(STATUS_MARKER)).expect("a status comment");
    assert!(!status.contains("needs your answer"), "{status}\n{out}");
    let head = github.head_of("add-app").unwrap();
    assert_eq!(
        files_of_commit(&github.bare_path(), &head),
        [WORKFLOW, JOB_FILE],
        "the job file and its pipeline in one commit\n{out}"
    );
    let job_file = github.read_file("add-app", JOB_FILE).unwrap();
    assert_eq!(image_in(&job_file), "ghcr.io/acme/shop/shop:built-after-merge", "{job_file}");
    let workflow: Value =
        serde_saphyr::from_str(&github.read_file("add-app", WORKFLOW).unwrap()).unwrap();
    let push = &workflow["jobs"]["push-shop"];
    assert_eq!(push["permissions"]["packages"], "write");
    let tags = push["steps"].as_array().unwrap().last().unwrap()["with"]["tags"].clone();
    assert_eq!(tags, "ghcr.io/acme/shop/shop:${{ github.sha }}");
    assert_eq!(workflow["jobs"]["build-shop"]["steps"][2]["with"]["push"], false);

    // A pull request's own build says nothing to the bot.
    let pr_build = github
        .workflow_run_event(
            "completed",
            WORKFLOW,
            "add-app",
            &head,
            "pull_request",
            Some("success"),
        )
        .unwrap();
    let before = story.snapshot();
    ok(&story.run(&pr_build));
    assert_eq!(story.snapshot(), before, "a pull request's build pins nothing");

    // 2. Merged: nothing is deployed before the merge commit's image exists.
    let merge = github.merge_pull_request(pr).unwrap();
    let merged = github.pull_request_event(pr, "closed").unwrap();
    let out = ok(&story.run(&merged));
    events.push(merged);
    assert_eq!(story.nomad.register_calls("shop"), 0, "{out}");
    let waiting = story.bot_comments(pr);
    assert!(
        waiting.iter().any(|c| c.contains("wait for the image build") && c.contains(&merge[..12])),
        "{waiting:#?}"
    );

    // 3. The build failed: said on the pull request, nothing deployed, nothing pinned.
    let failed = story.build_finished(&merge, "failure");
    let out = ok(&story.run(&failed));
    events.push(failed);
    assert_eq!(story.nomad.register_calls("shop"), 0, "{out}");
    assert_eq!(github.head_of("main").unwrap(), merge, "nothing pinned");
    let said = story.bot_comments(pr);
    assert!(
        said.iter().any(|c| c.contains("ended `failure`") && c.contains("nothing was deployed")),
        "{said:#?}"
    );

    // 4. A build that says it succeeded but pushed nothing: the registry is asked, nothing
    // is deployed.
    let succeeded = story.build_finished(&merge, "success");
    let out = ok(&story.run(&succeeded));
    assert_eq!(story.nomad.register_calls("shop"), 0, "{out}");
    assert!(story.registry.manifest_requests().iter().any(
        |(method, repository, reference, status)| {
            method == "HEAD"
                && repository == "acme/shop/shop"
                && reference == &merge
                && *status == 404
        }
    ));
    assert_eq!(github.head_of("main").unwrap(), merge, "nothing pinned");

    // 5. The image is in the registry: pinned on main, deployed, healthy.
    story.registry.push("acme/shop/shop", &merge);
    let out = ok(&story.run(&succeeded));
    events.push(succeeded);
    let main_log = github.log_subjects("main").unwrap();
    assert_eq!(main_log[0], format!("nomad-spec: deploy shop {merge}"), "{main_log:?}\n{out}");
    let pinned = github.read_file("main", JOB_FILE).unwrap();
    assert_eq!(image_in(&pinned), format!("ghcr.io/acme/shop/shop:{merge}"));
    assert_eq!(story.nomad.register_calls("shop"), 1, "{out}");
    let job = story.nomad.job("shop").expect("the job is registered");
    assert!(job.to_string().contains(&format!("ghcr.io/acme/shop/shop:{merge}")));
    let replies = story.bot_comments(pr);
    assert!(replies.iter().any(|c| c.contains("healthy")), "{replies:#?}");
    let ok_heads = story.registry.manifest_requests();
    assert!(ok_heads.iter().any(|(m, _, r, s)| m == "HEAD" && r == &merge && *s == 200));

    // 6. Every event again changes nothing.
    let before = story.snapshot();
    for event in &events {
        ok(&story.run(event));
    }
    assert_eq!(story.snapshot(), before, "a replay changed something");

    // 7. A later merge that leaves the build context alone (a person tunes the job file)
    // keeps the running image: deployed at once, nothing awaited.
    let tuned = format!("# tuned by alice\n{pinned}");
    github.commit("tune", &[(JOB_FILE, tuned.as_str())], "tune the job", "alice").unwrap();
    let tune = github.open_pull_request("tune", "Tune", "alice").unwrap();
    ok(&story.run(&github.pull_request_event(tune, "opened").unwrap()));
    github.merge_pull_request(tune).unwrap();
    let out = ok(&story.run(&github.pull_request_event(tune, "closed").unwrap()));
    let kept = github.read_file("main", JOB_FILE).unwrap();
    assert_eq!(image_in(&kept), format!("ghcr.io/acme/shop/shop:{merge}"), "{out}");
    assert!(!story.bot_comments(tune).iter().any(|c| c.contains("wait for the image build")));
}

struct GitLabStory {
    gitlab: FakeGitLab,
    nomad: FakeNomad,
    registry: FakeRegistry,
    bot: String,
    dir: tempfile::TempDir,
}

impl GitLabStory {
    fn new() -> GitLabStory {
        let dir = tempfile::tempdir().unwrap();
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        std::fs::write(seed.join("README.md"), "# shop\n").unwrap();
        let gitlab = FakeGitLab::start("acme/shop", "main", &seed).unwrap();
        gitlab.add_user("dev", Some(DEVELOPER));
        let (bot, _token) = gitlab.add_project_access_token(DEVELOPER);
        // The job's own registry credentials, as GitLab CI gives them.
        let registry = FakeRegistry::start(Login {
            username: "gitlab-ci-token".into(),
            password: gitlab.job_token(),
        })
        .unwrap();
        GitLabStory {
            gitlab,
            nomad: FakeNomad::start(Scenario::default()).unwrap(),
            registry,
            bot,
            dir,
        }
    }

    fn run(&self, vars: &BTreeMap<String, String>) -> Output {
        let mut vars = vars.clone();
        vars.insert("NOMAD_ADDR".into(), self.nomad.url());
        vars.insert("NOMAD_SPEC_REGISTRY_URL".into(), self.registry.url());
        vars.insert("CI_REGISTRY".into(), "registry.gitlab.test".into());
        vars.insert("CI_REGISTRY_IMAGE".into(), "registry.gitlab.test/acme/shop".into());
        vars.insert("CI_REGISTRY_USER".into(), "gitlab-ci-token".into());
        vars.insert("CI_REGISTRY_PASSWORD".into(), self.gitlab.job_token());
        run_ci(self.dir.path(), &vars)
    }

    fn bot_notes(&self, iid: u64) -> Vec<String> {
        let notes = self.gitlab.notes(iid).into_iter();
        notes.filter(|(author, _)| *author == self.bot).map(|(_, body)| body).collect()
    }

    fn build_finished(&self, sha: &str, status: &str) -> BTreeMap<String, String> {
        let event = self.gitlab.pipeline_event(sha, status, &[("nomad-spec-image-shop", status)]);
        self.gitlab.pipeline_trigger_vars(&event).unwrap()
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

fn gitlab_file(gitlab: &FakeGitLab, branch: &str, path: &str) -> Option<String> {
    fakes::git_http::read_file(&gitlab.project().bare, branch, path)
}

#[test]
fn gitlab_a_dockerfile_becomes_a_pinned_healthy_job_with_no_reply() {
    let story = GitLabStory::new();
    let gitlab = &story.gitlab;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let iid = gitlab.open_merge_request("dev", "add-app", &fixture, "Add the shop").unwrap();
    let mut runs = Vec::new();

    // 1. The merge request pipeline: the job file, the include and `.gitlab-ci.yml`, one
    // commit; nothing needs an answer.
    let mr_pipeline = gitlab.mr_pipeline_vars(iid).unwrap();
    let out = ok(&story.run(&mr_pipeline));
    runs.push(mr_pipeline);
    let notes = story.bot_notes(iid);
    let status = notes.iter().find(|n| n.contains(STATUS_MARKER)).expect("a status note");
    assert!(!status.contains("needs your answer"), "{status}\n{out}");
    let head = gitlab.head_of("add-app").unwrap();
    assert_eq!(
        files_of_commit(&gitlab.project().bare, &head),
        [".gitlab-ci.yml", ".gitlab/nomad-spec-images.yml", JOB_FILE],
        "{out}"
    );
    let job_file = gitlab_file(gitlab, "add-app", JOB_FILE).unwrap();
    assert_eq!(image_in(&job_file), "registry.gitlab.test/acme/shop/shop:built-after-merge");
    let include: Value = serde_saphyr::from_str(
        &gitlab_file(gitlab, "add-app", ".gitlab/nomad-spec-images.yml").unwrap(),
    )
    .unwrap();
    let script = include["nomad-spec-image-shop"]["script"].to_string();
    assert!(
        script.contains("docker push \\\"$CI_REGISTRY_IMAGE/shop:$CI_COMMIT_SHA\\\""),
        "{script}"
    );
    let ci: Value =
        serde_saphyr::from_str(&gitlab_file(gitlab, "add-app", ".gitlab-ci.yml").unwrap()).unwrap();
    assert_eq!(ci["include"][0]["local"], ".gitlab/nomad-spec-images.yml");

    // 2. Merged: the default branch's pipeline deploys nothing yet.
    let merge = gitlab.merge(iid, "dev").unwrap();
    let main_pipeline = gitlab.default_branch_pipeline_vars("dev").unwrap();
    let out = ok(&story.run(&main_pipeline));
    runs.push(main_pipeline);
    assert_eq!(story.nomad.register_calls("shop"), 0, "{out}");
    assert!(story.bot_notes(iid).iter().any(|n| n.contains("wait for the image build")));

    // 3. A failed image job: said, nothing deployed.
    let failed = story.build_finished(&merge, "failed");
    let out = ok(&story.run(&failed));
    runs.push(failed);
    assert_eq!(story.nomad.register_calls("shop"), 0, "{out}");
    assert_eq!(gitlab.head_of("main").unwrap(), merge);
    assert!(story.bot_notes(iid).iter().any(|n| n.contains("nothing was deployed")));

    // 4. The image job pushed the merge commit's image: pinned, deployed, healthy.
    story.registry.push("acme/shop/shop", &merge);
    let built = story.build_finished(&merge, "success");
    let out = ok(&story.run(&built));
    runs.push(built);
    let pinned = gitlab_file(gitlab, "main", JOB_FILE).unwrap();
    assert_eq!(image_in(&pinned), format!("registry.gitlab.test/acme/shop/shop:{merge}"), "{out}");
    let subject =
        fakes::git_http::git(&gitlab.project().bare, &["log", "-1", "--format=%s", "main"])
            .unwrap();
    assert_eq!(subject.trim(), format!("nomad-spec: deploy shop {merge}"));
    assert_eq!(story.nomad.register_calls("shop"), 1, "{out}");
    assert!(story.bot_notes(iid).iter().any(|n| n.contains("healthy")), "{out}");

    // 5. Every pipeline again: nothing changes.
    let before = story.snapshot();
    for vars in &runs {
        ok(&story.run(vars));
    }
    assert_eq!(story.snapshot(), before, "a replay changed something");
}
