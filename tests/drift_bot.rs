//! The scheduled drift run, end to end: the real `nomad-spec ci` binary on a `schedule` event
//! against a fake GitHub (or a `schedule` pipeline against a fake GitLab) and a fake Nomad.
//!
//! The drift issue's life: nothing while the cluster matches the files; opened when a job is
//! scaled by hand; left alone while nothing changes; edited when the drift changes; closed when
//! the file's version is back; reopened when drift returns. A repository with no job files
//! asks nothing of Nomad and opens nothing.
//!
//! The issue's commands, on both forges: `deploy web` by a writer puts the file's version
//! back on the fake Nomad and the issue closes; `adopt web` opens one change request whose
//! file has the cluster's count and image and keeps the file's comments; a reader's command is
//! refused in one reply; a replayed comment does nothing new; a command on another issue does
//! nothing.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use fakes::github::FakeGitHub;
use fakes::gitlab::{FakeGitLab, DEVELOPER, REPORTER};
use fakes::nomad::{FakeNomad, Scenario};
use nomad_spec::jobspec::parse::{parse_job, ParseOptions};
use serde_json::json;

const MARKER: &str = "<!-- nomad-spec:drift -->";

const WEB: &str = r#"# written by nomad-spec
job "web" {
  datacenters = ["dc1"]

  meta {
    nomad_spec_repository = "shop"
  }

  group "app" {
    count = 3

    task "server" {
      driver = "docker"

      config {
        image = "web:2" # pinned by the release
      }

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
"#;

/// Registers the file's version of `web`, as a deploy would.
fn deploy_web(nomad: &FakeNomad) {
    let job = parse_job(WEB, "deploy/web.nomad.hcl", &ParseOptions::default()).unwrap();
    nomad.register_job(job).unwrap();
    assert!(nomad.settle());
}

struct World {
    github: FakeGitHub,
    nomad: FakeNomad,
    dir: tempfile::TempDir,
}

impl World {
    fn new(files: &[(&str, &str)]) -> World {
        World::with_scenario(files, Scenario::default().with_manual_clock())
    }

    /// A world whose Nomad runs on its own clock, so that a deploy by the bot is watched to
    /// its end.
    fn running(files: &[(&str, &str)]) -> World {
        World::with_scenario(files, Scenario::default())
    }

    fn with_scenario(files: &[(&str, &str)], scenario: Scenario) -> World {
        let github = FakeGitHub::start().unwrap();
        github.add_user("alice", "write");
        github.add_user("rita", "read");
        github.commit("main", files, "initial commit", "alice").unwrap();
        let nomad = FakeNomad::start(scenario).unwrap();
        World { github, nomad, dir: tempfile::tempdir().unwrap() }
    }

    /// Runs `nomad-spec ci` for a `schedule` event, as an Actions job on a cron would.
    fn scheduled_run(&self) -> Output {
        let payload = json!({
            "schedule": "17 * * * *",
            "workflow": ".github/workflows/nomad-spec.yml",
            "repository": {"full_name": self.github.repository(), "default_branch": "main"},
        });
        self.run_event("schedule", &payload.to_string())
    }

    /// Runs `nomad-spec ci` for the `issue_comment` event of comment `id`, as it was created.
    fn comment_run(&self, id: u64) -> String {
        let (name, payload) = self.github.issue_comment_event(id, "created").unwrap();
        let output = self.run_event(&name, &payload);
        let log = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{log}");
        log
    }

    /// Runs `nomad-spec ci` for one event, as an Actions job would.
    fn run_event(&self, name: &str, payload: &str) -> Output {
        let event_path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&event_path, payload).unwrap();
        let mut vars: BTreeMap<String, String> = self.github.vars();
        vars.insert("GITHUB_ACTIONS".into(), "true".into());
        vars.insert("GITHUB_EVENT_NAME".into(), name.into());
        vars.insert("GITHUB_EVENT_PATH".into(), event_path.display().to_string());
        vars.insert("GITHUB_STEP_SUMMARY".into(), self.path("summary.md"));
        vars.insert("GITHUB_OUTPUT".into(), self.path("output"));
        vars.insert("NOMAD_ADDR".into(), self.nomad.url());
        Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .arg("ci")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(&vars)
            .output()
            .unwrap()
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The bot's comments on issue `number`, oldest first.
    fn bot_replies(&self, number: u64) -> Vec<String> {
        self.github.bot_comments(number)
    }

    /// Scales web down by hand and lets the scheduled run open the drift issue; its number.
    fn drift_web_by_hand(&self, change: impl FnOnce(&mut serde_json::Value)) -> u64 {
        deploy_web(&self.nomad);
        self.nomad.change_job_by_hand("web", change).unwrap();
        assert!(self.nomad.settle());
        self.run_ok();
        let issues = self.github.issues();
        assert_eq!(issues.len(), 1, "{issues:?}");
        issues[0].number
    }

    /// Runs and insists the run succeeded.
    fn run_ok(&self) -> String {
        let output = self.scheduled_run();
        let log = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{log}");
        log
    }
}

#[test]
fn the_drift_issue_is_opened_kept_closed_and_reopened() {
    let world = World::new(&[("README.md", "# shop\n"), ("deploy/web.nomad.hcl", WEB)]);
    deploy_web(&world.nomad);

    // In sync: no issue.
    world.run_ok();
    assert!(world.github.issues().is_empty());

    // Someone scales web down by hand: the issue is opened, by the bot, with the marker.
    world.nomad.change_job_by_hand("web", |job| job["TaskGroups"][0]["Count"] = json!(1)).unwrap();
    assert!(world.nomad.settle());
    world.run_ok();
    let issues = world.github.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!((issue.author.as_str(), issue.state.as_str()), ("github-actions[bot]", "open"));
    assert!(issue.body.lines().any(|line| line == MARKER), "{}", issue.body);
    assert!(issue.body.contains("- group app: count 3 → 1 on the cluster"), "{}", issue.body);
    assert!(issue.body.contains("`/nomad-spec deploy web`"), "{}", issue.body);
    assert!(issue.body.contains("`/nomad-spec adopt web`"), "{}", issue.body);
    let number = issue.number;

    // The next run finds the same drift: the issue is left alone.
    world.run_ok();
    assert_eq!(world.github.write_count("update_issue"), 0);
    assert_eq!(world.github.write_count("create_issue"), 1);

    // The drift changes: the same issue is edited.
    world
        .nomad
        .change_job_by_hand("web", |job| {
            job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("web:1")
        })
        .unwrap();
    assert!(world.nomad.settle());
    world.run_ok();
    let issue = world.github.issues().into_iter().find(|i| i.number == number).unwrap();
    assert!(issue.body.contains("image web:2 → web:1 on the cluster"), "{}", issue.body);
    assert_eq!(world.github.write_count("update_issue"), 1);

    // The file's version is back: closed, saying so.
    deploy_web(&world.nomad);
    world.run_ok();
    let issue = world.github.issues().into_iter().find(|i| i.number == number).unwrap();
    assert_eq!(issue.state, "closed");
    assert!(issue.body.contains("matches its file again"), "{}", issue.body);

    // Drift returns: the same issue is reopened, never a second one.
    world.nomad.change_job_by_hand("web", |job| job["Stop"] = json!(true)).unwrap();
    assert!(world.nomad.settle());
    world.run_ok();
    let issues = world.github.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].state, "open");
    assert!(issues[0].body.contains("stopped on the cluster"), "{}", issues[0].body);
    assert_eq!(world.github.write_count("create_issue"), 1);
}

#[test]
fn a_job_whose_file_was_deleted_is_drift() {
    let world = World::new(&[("README.md", "# shop\n"), ("deploy/web.nomad.hcl", WEB)]);
    deploy_web(&world.nomad);
    let old = json!({"ID": "old-api", "Type": "service", "Datacenters": ["dc1"],
        "Meta": {"nomad_spec_repository": "shop"},
        "TaskGroups": [{"Name": "app", "Count": 1, "Tasks": [{"Name": "server",
            "Driver": "docker", "Config": {"image": "old:1"},
            "Resources": {"CPU": 100, "MemoryMB": 64}}]}]});
    world.nomad.register_job(old).unwrap();
    assert!(world.nomad.settle());
    world.run_ok();
    let issues = world.github.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0].body.contains("on the cluster, no job file"), "{}", issues[0].body);
}

#[test]
fn a_repository_with_no_job_files_does_nothing() {
    let world = World::new(&[("README.md", "# shop\n"), ("main.tf", "# not a job\n")]);
    world.run_ok();
    let summary = std::fs::read_to_string(world.path("summary.md")).unwrap();
    assert!(summary.contains("no-job-files") && summary.contains("no job file"), "{summary}");
    assert!(world.nomad.requests().is_empty(), "{:?}", world.nomad.requests());
    assert!(world.github.issues().is_empty());
    let asked_for_issues = world.github.requests().iter().any(|r| r.contains("/issues"));
    assert!(!asked_for_issues, "{:?}", world.github.requests());
}

#[test]
fn a_scheduled_gitlab_pipeline_opens_the_drift_issue() {
    nomad_spec::tls::install_crypto_provider();
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(seed.path().join("deploy")).unwrap();
    std::fs::write(seed.path().join("deploy/web.nomad.hcl"), WEB).unwrap();
    let gitlab = FakeGitLab::start("acme/shop", "main", seed.path()).unwrap();
    gitlab.add_user("dev", Some(DEVELOPER));
    gitlab.add_project_access_token(DEVELOPER);
    let nomad = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    deploy_web(&nomad);
    nomad.change_job_by_hand("web", |job| job["TaskGroups"][0]["Count"] = json!(1)).unwrap();
    assert!(nomad.settle());

    let mut vars = gitlab.default_branch_pipeline_vars("dev").unwrap();
    vars.insert("CI_PIPELINE_SOURCE".into(), "schedule".into());
    vars.insert("NOMAD_ADDR".into(), nomad.url());
    let home = tempfile::tempdir().unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .arg("ci")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .envs(&vars)
            .current_dir(home.path())
            .output()
            .unwrap()
    };
    let output = run();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let issues = gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].state, "opened");
    assert!(issues[0].description.contains(MARKER), "{}", issues[0].description);
    assert!(issues[0].description.contains("count 3 → 1 on the cluster"));
    // Again: the bot finds its issue by author and marker and leaves it as it is.
    let before = gitlab.issues()[0].updated_at.clone();
    assert!(run().status.success());
    let issues = gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].updated_at, before);
}

/// The web job's group and task, as the fake Nomad runs them: (count, image).
fn web_on_the_cluster(nomad: &FakeNomad) -> (i64, String) {
    let job = nomad.job("web").unwrap();
    let group = &job["TaskGroups"][0];
    let image = group["Tasks"][0]["Config"]["image"].as_str().unwrap_or_default().to_string();
    (group["Count"].as_i64().unwrap_or_default(), image)
}

#[test]
fn deploy_on_the_drift_issue_puts_the_files_version_back_and_closes_the_issue() {
    let world = World::running(&[("README.md", "# shop\n"), ("deploy/web.nomad.hcl", WEB)]);
    let number = world.drift_web_by_hand(|job| job["TaskGroups"][0]["Count"] = json!(1));
    assert_eq!(web_on_the_cluster(&world.nomad), (1, "web:2".to_string()));
    let registered = world.nomad.register_calls("web");

    // A reader asks: one polite refusal, nothing deployed.
    let asked = world.github.post_comment(number, "rita", "/nomad-spec deploy web").unwrap();
    world.comment_run(asked);
    let replies = world.bot_replies(number);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("Only people with write access"), "{}", replies[0]);
    assert_eq!(world.nomad.register_calls("web"), registered);
    // The same comment delivered again: no second refusal.
    world.comment_run(asked);
    assert_eq!(world.bot_replies(number).len(), 1);

    // A writer asks: the file's version is back and the issue closes.
    let asked = world.github.post_comment(number, "alice", "/nomad-spec deploy web").unwrap();
    world.comment_run(asked);
    assert_eq!(web_on_the_cluster(&world.nomad), (3, "web:2".to_string()));
    assert_eq!(world.nomad.register_calls("web"), registered + 1);
    let replies = world.bot_replies(number);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(
        replies[1].contains("Deployed the file's version of <code>web</code>"),
        "{}",
        replies[1]
    );
    assert!(replies[1].contains("this issue is closed"), "{}", replies[1]);
    let issue = world.github.issues().into_iter().find(|i| i.number == number).unwrap();
    assert_eq!(issue.state, "closed");
    assert!(issue.body.contains("matches its file again"), "{}", issue.body);

    // Replayed: no second deploy, no second reply, the issue left as it is.
    let writes = world.github.writes();
    world.comment_run(asked);
    assert_eq!(world.nomad.register_calls("web"), registered + 1);
    assert_eq!(world.github.writes(), writes);

    // The same command on another issue: nothing at all.
    let other = world.github.open_issue("alice", "Slow pages", "The shop is slow.");
    let asked = world.github.post_comment(other, "alice", "/nomad-spec deploy web").unwrap();
    let log = world.comment_run(asked);
    assert!(log.contains("not the drift issue"), "{log}");
    assert!(world.bot_replies(other).is_empty());
    assert_eq!(world.nomad.register_calls("web"), registered + 1);
    assert_eq!(world.github.writes(), writes);
}

#[test]
fn adopt_on_the_drift_issue_opens_one_change_request_with_the_clusters_version() {
    let world = World::new(&[("README.md", "# shop\n"), ("deploy/web.nomad.hcl", WEB)]);
    let number = world.drift_web_by_hand(|job| {
        job["TaskGroups"][0]["Count"] = json!(1);
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("web:1");
    });

    // An unknown job: the reply names the drifted ones.
    let asked = world.github.post_comment(number, "alice", "/nomad-spec adopt wbe").unwrap();
    world.comment_run(asked);
    let replies = world.bot_replies(number);
    assert!(replies[0].contains("The jobs that drifted: <code>web</code>"), "{replies:?}");
    assert!(world.github.pulls_by_bot().is_empty());

    let asked = world.github.post_comment(number, "alice", "/nomad-spec adopt web").unwrap();
    world.comment_run(asked);
    let pulls = world.github.pulls_by_bot();
    assert_eq!(pulls.len(), 1, "{pulls:?}");
    let pull = &pulls[0];
    assert_eq!((pull.head_ref.as_str(), pull.base_ref.as_str()), ("nomad-spec/adopt-web", "main"));
    assert!(pull.body.contains("- group app: count 1"), "{}", pull.body);
    assert!(pull.body.contains("- task app/server: image web:1"), "{}", pull.body);
    let file = world.github.read_file("nomad-spec/adopt-web", "deploy/web.nomad.hcl").unwrap();
    let expected =
        WEB.replace("count = 3", "count = 1").replace("\"web:2\" # pinned", "\"web:1\" # pinned");
    assert_eq!(file, expected, "the cluster's values, the file's comments and layout");
    let replies = world.bot_replies(number);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[1].starts_with(&format!("<!-- nomad-spec:answered {asked} -->")));
    assert!(replies[1].contains(&format!("#{} writes the cluster's version", pull.number)));
    // The default branch and the cluster are left alone until the change request is merged.
    assert_eq!(world.github.read_file("main", "deploy/web.nomad.hcl").unwrap(), WEB);
    assert_eq!(web_on_the_cluster(&world.nomad), (1, "web:1".to_string()));

    // Replayed: nothing new.
    let writes = world.github.writes();
    let head = world.github.head_of("nomad-spec/adopt-web").unwrap();
    world.comment_run(asked);
    assert_eq!(world.github.writes(), writes);
    assert_eq!(world.github.head_of("nomad-spec/adopt-web").unwrap(), head);

    // Asked again after another change by hand: the same branch gets a commit, the same
    // change request is named, never a second one.
    world
        .nomad
        .change_job_by_hand("web", |job| {
            job["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = json!(256)
        })
        .unwrap();
    assert!(world.nomad.settle());
    let again = world.github.post_comment(number, "alice", "/nomad-spec adopt web").unwrap();
    world.comment_run(again);
    assert_eq!(world.github.pulls_by_bot().len(), 1);
    let file = world.github.read_file("nomad-spec/adopt-web", "deploy/web.nomad.hcl").unwrap();
    assert!(file.contains("memory = 256") && file.contains("count = 1"), "{file}");
    assert!(file.contains("# pinned by the release"), "{file}");
    let replies = world.bot_replies(number);
    assert!(replies[2].contains(&format!("#{} writes", pull.number)), "{}", replies[2]);
}

#[test]
fn the_drift_issue_commands_on_gitlab() {
    nomad_spec::tls::install_crypto_provider();
    let seed = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(seed.path().join("deploy")).unwrap();
    std::fs::write(seed.path().join("deploy/web.nomad.hcl"), WEB).unwrap();
    let gitlab = FakeGitLab::start("acme/shop", "main", seed.path()).unwrap();
    gitlab.add_user("dev", Some(DEVELOPER));
    gitlab.add_user("rita", Some(REPORTER));
    let (bot, _) = gitlab.add_project_access_token(DEVELOPER);
    let nomad = FakeNomad::start(Scenario::default()).unwrap();
    deploy_web(&nomad);
    nomad
        .change_job_by_hand("web", |job| {
            job["TaskGroups"][0]["Count"] = json!(1);
            job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("web:1");
        })
        .unwrap();
    assert!(nomad.settle());
    let home = tempfile::tempdir().unwrap();
    let run = |mut vars: BTreeMap<String, String>| {
        vars.insert("NOMAD_ADDR".into(), nomad.url());
        let output = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .arg("ci")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .envs(&vars)
            .current_dir(home.path())
            .output()
            .unwrap();
        let log = format!(
            "{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{log}");
        log
    };
    let mut scheduled = gitlab.default_branch_pipeline_vars("dev").unwrap();
    scheduled.insert("CI_PIPELINE_SOURCE".into(), "schedule".into());
    run(scheduled);
    let issues = gitlab.issues();
    assert_eq!(issues.len(), 1, "{issues:?}");
    let number = issues[0].iid;
    let replies = || -> Vec<String> {
        gitlab.issue_notes(number).into_iter().filter(|(a, _)| *a == bot).map(|(_, b)| b).collect()
    };
    let comment = |author: &str, body: &str| {
        let id = gitlab.post_issue_note(author, number, body).unwrap();
        run(gitlab.note_pipeline_vars(id).unwrap())
    };

    // A reporter may read, not deploy: one refusal, the cluster left alone, even when the
    // trigger payload (which anyone holding the trigger token can send) names a developer.
    let id = gitlab.post_issue_note("rita", number, "/nomad-spec deploy web").unwrap();
    let vars = gitlab.note_pipeline_vars(id).unwrap();
    let payload = std::fs::read_to_string(&vars["TRIGGER_PAYLOAD"]).unwrap();
    let forged = payload.replace(r#""username":"rita""#, r#""username":"dev""#);
    assert_ne!(forged, payload);
    std::fs::write(&vars["TRIGGER_PAYLOAD"], forged).unwrap();
    run(vars);
    assert_eq!(replies().len(), 1, "{:?}", replies());
    assert!(replies()[0].contains("Only people with write access"), "{:?}", replies());
    assert_eq!(web_on_the_cluster(&nomad), (1, "web:1".to_string()));

    // A developer adopts: one merge request with the cluster's values, the comments kept.
    comment("dev", "/nomad-spec adopt web");
    let requests = gitlab.merge_requests_by(&bot);
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].source_branch, "nomad-spec/adopt-web");
    let show = ["show", "nomad-spec/adopt-web:deploy/web.nomad.hcl"];
    let file = fakes::git_http::git(&gitlab.project().bare, &show).unwrap();
    let expected =
        WEB.replace("count = 3", "count = 1").replace("\"web:2\" # pinned", "\"web:1\" # pinned");
    assert_eq!(file, expected);
    assert!(replies()[1].contains(&format!("!{} writes", requests[0].iid)), "{:?}", replies());

    // A developer deploys: the file's version is back and the issue is closed.
    comment("dev", "/nomad-spec deploy web");
    assert_eq!(web_on_the_cluster(&nomad), (3, "web:2".to_string()));
    assert_eq!(gitlab.issues()[0].state, "closed");
    assert_eq!(replies().len(), 3, "{:?}", replies());

    // The last note's pipeline again: nothing new.
    let last = gitlab.post_issue_note("dev", number, "/nomad-spec deploy web").unwrap();
    let vars = gitlab.note_pipeline_vars(last).unwrap();
    run(vars.clone());
    let registered = nomad.register_calls("web");
    let answered = replies().len();
    run(vars);
    assert_eq!((nomad.register_calls("web"), replies().len()), (registered, answered));

    // A command on another issue: no answer.
    let other = gitlab.add_issue("Slow pages");
    let id = gitlab.post_issue_note("dev", other, "/nomad-spec adopt web").unwrap();
    let log = run(gitlab.note_pipeline_vars(id).unwrap());
    assert!(log.contains("not the drift issue"), "{log}");
    assert!(gitlab.issue_notes(other).iter().all(|(a, _)| *a != bot));
    assert_eq!(gitlab.merge_requests_by(&bot).len(), 1);
}
