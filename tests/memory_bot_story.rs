//! Memory in the pull-request bot (issue 14), end to end: the real `nomad-spec ci` binary
//! against a fake GitHub (REST and git over HTTP) and a fake Nomad, with memory turned on
//! explicitly (every other bot story runs with it off) and kept where the bot keeps it in CI:
//! on the repository's own `refs/nomad-spec/memory`.
//!
//! The story: pull request 1 adds a Spring service whose class gives it 512 MB; the cluster
//! kills it for memory, the bot fixes it to 1024 MB, and the answer given for its image is
//! remembered. Pull request 2 adds another Spring service to the same repository and is run
//! from a fresh checkout (a new folder; nothing carried over but the remote): its first job
//! has 1024 MB and the registry answered before, each a decision saying where it comes from,
//! and it is healthy with no fix. Around it: two runs that push the ref at once both keep
//! their entries; memory that is corrupt or cannot be pushed never fails a run (one note on
//! the status comment); a fix that goes to a fix pull request is not remembered as healthy;
//! runs that end early push nothing.
//!
//! With `QDRANT_URL` set, memory is the server's, shared across repositories: the same story
//! runs from repository `acme/orders` to repository `acme/billing` on one cluster, and the
//! memory ref is never written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::rc::Rc;

mod common;

use common::bot::{ok, question_number, run_ci, STATUS_MARKER};
use fakes::github::FakeGitHub;
use fakes::nomad::{FakeNomad, JobRule, Scenario};
use fakes::qdrant::FakeQdrant;
use nomad_spec::git::{FileOnRef, GitRemote, Identity, PushOutcome};
use nomad_spec::memory::store::git_ref;
use nomad_spec::memory::{Given, Memory, Preference};
use nomad_spec::settings::MemorySettings;

/// Where the bot keeps memory in CI.
const MEMORY_REF: &str = "refs/nomad-spec/memory";

/// The job file the bot writes for the default repository (`acme/shop`).
const JOB_FILE: &str = "deploy/shop.nomad.hcl";

/// The files of a Spring Boot service in folder `name`.
fn spring_service(name: &str) -> Vec<(String, String)> {
    let pom = format!(
        "<project>\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>com.acme</groupId>\n  \
         <artifactId>{name}</artifactId>\n  <version>1.0</version>\n  <parent>\n    \
         <groupId>org.springframework.boot</groupId>\n    \
         <artifactId>spring-boot-starter-parent</artifactId>\n    <version>3.3.0</version>\n  \
         </parent>\n  <dependencies>\n    <dependency>\n      \
         <groupId>org.springframework.boot</groupId>\n      \
         <artifactId>spring-boot-starter-web</artifactId>\n    </dependency>\n  \
         </dependencies>\n</project>\n"
    );
    let dockerfile = "FROM eclipse-temurin:21-jre\nCOPY target/app.jar /app.jar\nEXPOSE 8080\n\
                      CMD [\"java\", \"-jar\", \"/app.jar\"]\n";
    vec![(format!("{name}/pom.xml"), pom), (format!("{name}/Dockerfile"), dockerfile.into())]
}

/// A repository whose conventions give application services 512 MB, on a cluster where a
/// task with less than 1000 MB is killed for memory: a Spring service needs 1 GB there.
struct Shop {
    github: FakeGitHub,
    nomad: Rc<FakeNomad>,
    /// Settings of the bot's environment beyond GitHub's and Nomad's (Qdrant's).
    vars: Vec<(String, String)>,
    /// The job file the bot writes (`deploy/<repository name>.nomad.hcl`).
    job_file: String,
}

impl Shop {
    fn new() -> Shop {
        let scenario = Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(1000));
        Shop::on("acme/shop", Rc::new(FakeNomad::start(scenario).unwrap()), Vec::new())
    }

    /// Repository `full_name` deploying to `nomad`, its bot run with `vars` too.
    fn on(full_name: &str, nomad: Rc<FakeNomad>, vars: Vec<(String, String)>) -> Shop {
        let settings =
            fakes::github::Settings { repository: full_name.to_string(), ..Default::default() };
        let github = FakeGitHub::start_on("127.0.0.1:0", settings).unwrap();
        github.add_user("alice", "write");
        github.add_user("mallory", "read");
        let conventions = "[classes.app]\nmemory = 512\n";
        let files = [("README.md", "# shop\n"), (".nomad-spec.toml", conventions)];
        github.commit("main", &files, "initial commit", "alice").unwrap();
        let name = full_name.rsplit('/').next().unwrap_or(full_name);
        Shop { github, nomad, vars, job_file: format!("deploy/{name}.nomad.hcl") }
    }

    /// A pull request by alice adding the Spring service `name` on branch `add-NAME`.
    fn add_service(&self, name: &str) -> u64 {
        let files = spring_service(name);
        let files: Vec<(&str, &str)> =
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        let branch = format!("add-{name}");
        self.github.commit(&branch, &files, &format!("add {name}"), "alice").unwrap();
        self.github.open_pull_request(&branch, &format!("Add {name}"), "alice").unwrap()
    }

    /// The commit the memory ref points at, if any.
    fn memory_head(&self) -> Option<String> {
        let args = ["rev-parse", "--verify", "--quiet", MEMORY_REF];
        fakes::git_http::git(&self.github.bare_path(), &args).ok().map(|s| s.trim().to_string())
    }

    /// The memory file on the ref, as the bot pushed it.
    fn memory_file(&self) -> String {
        let args = ["show", &format!("{MEMORY_REF}:memory.json")];
        fakes::git_http::git(&self.github.bare_path(), &args).unwrap_or_default()
    }

    /// Commits on the memory ref, newest first.
    fn memory_commits(&self) -> Vec<String> {
        let args = ["log", "--format=%s", MEMORY_REF];
        let listed = fakes::git_http::git(&self.github.bare_path(), &args).unwrap_or_default();
        listed.lines().map(str::to_string).collect()
    }

    /// The episodes on the ref, as (category, outcome) pairs.
    fn episodes(&self) -> Vec<(String, String)> {
        let text = self.memory_file();
        let memory: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let episodes = memory.get("episodes").and_then(|e| e.as_array()).cloned();
        let field = |e: &serde_json::Value, k: &str| {
            e.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        };
        episodes
            .unwrap_or_default()
            .iter()
            .map(|e| {
                (field(e, "category").unwrap_or_default(), field(e, "outcome").unwrap_or_default())
            })
            .collect()
    }

    /// The repository as the bot's own git code reaches it, with the fake's token.
    fn remote(&self) -> GitRemote {
        GitRemote {
            url: self.github.clone_url(),
            username: "x-access-token".to_string(),
            token: self.github.token().into(),
            push_options: Vec::new(),
            ca_file: None,
        }
    }

    /// Alice opens a pull request adding `name`, accepts every default, and it is committed.
    fn accepted(&self, checkout: &Checkout, name: &str) -> u64 {
        let pr = self.add_service(name);
        ok(&checkout.run(self, &self.github.pull_request_event(pr, "opened").unwrap()));
        let accept = self.github.post_comment(pr, "alice", "/nomad-spec accept").unwrap();
        let out =
            ok(&checkout.run(self, &self.github.issue_comment_event(accept, "created").unwrap()));
        let branch = format!("add-{name}");
        assert!(self.github.read_file(&branch, &self.job_file).is_some(), "committed: {out}");
        pr
    }

    /// The row of the decision on `subject` in pull request `number`'s status comment.
    fn decision(&self, number: u64, subject: &str) -> String {
        let status = self.status(number);
        let row = format!("| {} | ", subject.replace('.', "\\."));
        let found = status.lines().find(|line| line.starts_with(&row));
        found.unwrap_or_else(|| panic!("no decision on {subject}:\n{status}")).to_string()
    }

    fn status(&self, number: u64) -> String {
        let comments: Vec<String> = self
            .github
            .bot_comments(number)
            .into_iter()
            .filter(|body| body.contains(STATUS_MARKER))
            .collect();
        assert_eq!(comments.len(), 1, "exactly one status comment: {comments:#?}");
        comments.into_iter().next().unwrap_or_default()
    }
}

/// One CI job's machine: a folder of its own (home, event files, outputs), fresh per
/// checkout, so nothing but the remote carries from one checkout to the next.
struct Checkout {
    dir: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

impl Checkout {
    fn fresh() -> Checkout {
        Checkout { dir: tempfile::tempdir().unwrap(), runs: std::cell::Cell::new(0) }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `nomad-spec ci` for one event with memory on, as an Actions job would.
    fn run(&self, shop: &Shop, event: &(String, String)) -> Output {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let (name, payload) = event;
        let event_path = self.path(&format!("event-{n}.json"));
        std::fs::write(&event_path, payload).unwrap();
        let mut vars: BTreeMap<String, String> = shop.github.vars();
        let path = |p: &Path| p.display().to_string();
        for (key, value) in [
            ("GITHUB_ACTIONS", "true".to_string()),
            ("GITHUB_EVENT_NAME", name.clone()),
            ("GITHUB_EVENT_PATH", path(&event_path)),
            ("GITHUB_STEP_SUMMARY", path(&self.path("summary.md"))),
            ("GITHUB_OUTPUT", path(&self.path("output"))),
            ("NOMAD_ADDR", shop.nomad.url()),
            // A person answers the image question here; the pipeline has its own story.
            ("NOMAD_SPEC_IMAGE_PIPELINE", "false".to_string()),
            ("NOMAD_SPEC_MEMORY", "on".to_string()),
            ("NOMAD_SPEC_MEMORY_CLUSTER", "prod".to_string()),
        ] {
            vars.insert(key.to_string(), value);
        }
        vars.extend(shop.vars.iter().cloned());
        run_ci(self.dir.path(), &vars)
    }

    /// No memory was kept on this machine: the bot's memory lives on the ref only.
    fn keeps_no_memory_file(&self) {
        let local = self.path(".local/share/nomad-spec/memory.json");
        assert!(!local.exists(), "{} was written", local.display());
    }
}

fn bot() -> Identity {
    Identity { name: "nomad-spec".to_string(), email: "bot@example.com".to_string() }
}

fn memory_settings() -> MemorySettings {
    MemorySettings {
        path: "unused.json".into(),
        git_ref: MEMORY_REF.to_string(),
        cluster: "prod".to_string(),
        embeddings: None,
        qdrant: None,
    }
}

#[test]
fn a_fix_learned_on_one_pull_request_is_the_next_one_s_first_job() {
    let shop = Shop::new();
    let github = &shop.github;

    // Pull request 1, on one CI machine: orders gets its image answered, then is merged,
    // killed for memory at 512 MB and fixed to 1024 MB.
    let first = Checkout::fresh();
    let pr = shop.add_service("orders");
    ok(&first.run(&shop, &github.pull_request_event(pr, "opened").unwrap()));
    let image = question_number(&shop.status(pr), "image.orders");
    let answer = github.post_comment(pr, "alice", &format!("{image}: ghcr.io/acme/orders:1.4"));
    let out =
        ok(&first.run(&shop, &github.issue_comment_event(answer.unwrap(), "created").unwrap()));
    let job = github.read_file("add-orders", JOB_FILE).expect("the job file was committed");
    assert!(job.contains("memory = 512"), "{job}\n{out}");
    github.merge_pull_request(pr).unwrap();
    let out = ok(&first.run(&shop, &github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(shop.nomad.register_calls("shop"), 2, "killed for memory, then fixed: {out}");
    let fixed = github.read_file("main", JOB_FILE).unwrap();
    assert!(fixed.contains("memory = 1024"), "{fixed}");
    assert_eq!(shop.episodes(), [("out-of-memory".to_string(), "healthy".to_string())]);
    assert!(shop.memory_file().contains("ghcr.io/acme"), "{}", shop.memory_file());
    first.keeps_no_memory_file();

    // Pull request 2, another Spring service of the same repository, on a fresh machine. Its
    // first committed job gives it what the fix taught and the registry answered before, each
    // a decision on the status comment saying where it comes from.
    let second = Checkout::fresh();
    let pr = shop.add_service("billing");
    let out = ok(&second.run(&shop, &github.pull_request_event(pr, "opened").unwrap()));
    let job = github.read_file("add-billing", JOB_FILE).expect("the job file was committed");
    let billing = &job[job.find("group \"billing\"").expect("a billing group")..];
    let billing = &billing[..billing.find("group \"orders\"").unwrap_or(billing.len())];
    assert!(billing.contains("memory = 1024"), "{billing}\n{out}");
    assert!(billing.contains("ghcr.io/acme/billing:latest"), "{billing}");
    let status = shop.status(pr);
    let decision = |subject: &str| shop.decision(pr, subject);
    let memory = decision("memory.billing");
    assert!(
        memory.contains(
            "| 1024 | remembered: an out\\-of\\-memory on a java/spring\\-boot service in \
             acme/shop was fixed with 1024 MB on 20"
        ) && memory.contains("\\(memory episode "),
        "{memory}"
    );
    let image = decision("image.billing");
    assert!(
        image.contains(
            "| ghcr\\.io/acme/billing:latest | remembered: \\`image\\.\\*\\` was answered \
             \\`ghcr\\.io/acme\\` 1 time\\(s\\) on this cluster, last in acme/shop"
        ),
        "{image}"
    );
    // Still a question, with memory's default: a person may answer otherwise.
    let asked = question_number(&status, "image.billing");
    assert!(status.contains("ghcr\\.io/acme/billing:latest"), "question {asked}:\n{status}");

    // Merged: healthy at the first deploy, no fix. Another run pushes the memory ref after
    // this one read it and before it pushes: this one's push is refused, and it fetches that
    // version, merges its own entries in and pushes again; neither run's entries are lost.
    let mut theirs = git_ref_memory(&shop.memory_file());
    theirs.remember(Preference::new("datacenters", "eu1", "prod", given_in("acme/shop#99")));
    let theirs = nomad_spec::memory::store::to_json(&theirs).unwrap();
    let files = [("memory.json", theirs.as_str())];
    github.race_next_push_to(MEMORY_REF, &files, "another run's memory", "nomad-spec");
    let good_jobs = git_ref_memory(&shop.memory_file()).good_jobs.len();
    let registered = shop.nomad.register_calls("shop");
    github.merge_pull_request(pr).unwrap();
    let out = ok(&second.run(&shop, &github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(shop.nomad.register_calls("shop"), registered + 1, "one deploy: {out}");
    let main_log = github.log_subjects("main").unwrap();
    assert!(main_log[0].starts_with("Merge pull request #2"), "no fix commit: {main_log:?}");
    let output = std::fs::read_to_string(second.path("output")).unwrap();
    assert!(output.contains("verdict=healthy"), "{output}");
    let merged = git_ref_memory(&shop.memory_file());
    assert_eq!(merged.episodes.len(), 1, "no new failure: {merged:#?}");
    assert_eq!(
        merged.good_jobs.len(),
        good_jobs + 1,
        "this run's healthy job is kept: {out}\n{:?}",
        shop.memory_commits()
    );
    assert!(merged.preferences.iter().any(|p| p.key == "datacenters"), "theirs is kept");
    let commits = shop.memory_commits();
    assert_eq!(commits[1], "another run's memory", "pushed on the version that won: {commits:?}");
    second.keeps_no_memory_file();
}

#[test]
fn with_qdrant_a_fix_learned_in_one_repository_is_another_repository_s_first_job() {
    let qdrant = FakeQdrant::start().unwrap();
    let vars = vec![("QDRANT_URL".to_string(), qdrant.url())];
    let scenario = Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(1000));
    let cluster = Rc::new(FakeNomad::start(scenario).unwrap());

    // Repository acme/orders: its Spring service gets its image answered, is merged, killed
    // for memory at 512 MB and fixed to 1024 MB. What it taught goes to Qdrant.
    let orders = Shop::on("acme/orders", cluster.clone(), vars.clone());
    let checkout = Checkout::fresh();
    let pr = orders.add_service("orders");
    ok(&checkout.run(&orders, &orders.github.pull_request_event(pr, "opened").unwrap()));
    let image = question_number(&orders.status(pr), "image.orders");
    let answer =
        orders.github.post_comment(pr, "alice", &format!("{image}: ghcr.io/acme/orders:1.4"));
    let event = orders.github.issue_comment_event(answer.unwrap(), "created").unwrap();
    let out = ok(&checkout.run(&orders, &event));
    let job = orders.github.read_file("add-orders", &orders.job_file).expect("committed");
    assert!(job.contains("memory = 512"), "{job}\n{out}");
    orders.github.merge_pull_request(pr).unwrap();
    let out = ok(&checkout.run(&orders, &orders.github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(cluster.register_calls("orders"), 2, "killed for memory, then fixed: {out}");
    assert!(orders.github.read_file("main", &orders.job_file).unwrap().contains("memory = 1024"));
    assert_eq!(qdrant.points("nomad-spec-episodes"), Some(1), "{out}");
    assert_eq!(qdrant.points("nomad-spec-preferences"), Some(1));
    assert_eq!(qdrant.points("nomad-spec-good-jobs"), Some(1));
    assert_eq!(orders.memory_head(), None, "the memory ref is not used with Qdrant");
    checkout.keeps_no_memory_file();

    // Repository acme/billing, another Spring service on the same cluster, from a fresh
    // machine: its first job has the memory the fix taught and the registry answered in
    // acme/orders, each a decision citing where it comes from.
    let billing = Shop::on("acme/billing", cluster.clone(), vars);
    let checkout = Checkout::fresh();
    let pr = billing.add_service("billing");
    let out =
        ok(&checkout.run(&billing, &billing.github.pull_request_event(pr, "opened").unwrap()));
    let job = billing.github.read_file("add-billing", &billing.job_file).expect("committed");
    assert!(job.contains("memory = 1024"), "{job}\n{out}");
    assert!(job.contains("ghcr.io/acme/billing:latest"), "{job}");
    let memory = billing.decision(pr, "memory.billing");
    assert!(
        memory.contains(
            "| 1024 | remembered: an out\\-of\\-memory on a java/spring\\-boot service in \
             acme/orders was fixed with 1024 MB on 20"
        ),
        "{memory}"
    );
    let image = billing.decision(pr, "image.billing");
    assert!(
        image.contains(
            "| ghcr\\.io/acme/billing:latest | remembered: \\`image\\.\\*\\` was answered \
             \\`ghcr\\.io/acme\\` 1 time\\(s\\) on this cluster, last in acme/orders"
        ),
        "{image}"
    );
    // Merged: healthy at the first deploy, no fix; the healthy job is kept on the server.
    billing.github.merge_pull_request(pr).unwrap();
    let out =
        ok(&checkout.run(&billing, &billing.github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(cluster.register_calls("billing"), 1, "one deploy, no fix: {out}");
    let output = std::fs::read_to_string(checkout.path("output")).unwrap();
    assert!(output.contains("verdict=healthy"), "{output}");
    assert_eq!(qdrant.points("nomad-spec-episodes"), Some(1), "no new failure");
    assert_eq!(qdrant.points("nomad-spec-good-jobs"), Some(2), "{out}");
    assert_eq!(billing.memory_head(), None);
    checkout.keeps_no_memory_file();
}

#[test]
fn a_qdrant_that_is_down_is_one_note_on_the_status_comment_and_the_run_goes_on() {
    let down = fakes::faults::refused_url();
    let scenario = Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(1000));
    let nomad = Rc::new(FakeNomad::start(scenario).unwrap());
    let shop = Shop::on("acme/shop", nomad, vec![("QDRANT_URL".to_string(), down.clone())]);
    let checkout = Checkout::fresh();
    let pr = shop.accepted(&checkout, "orders");
    let status = shop.status(pr);
    let notes: Vec<&str> = status.lines().filter(|l| l.contains("cannot reach Qdrant")).collect();
    assert_eq!(notes.len(), 1, "one note:\n{status}");
    assert!(
        notes[0].starts_with("- memory was not consulted: cannot reach Qdrant at"),
        "{}",
        notes[0]
    );
    assert_eq!(shop.memory_head(), None, "the ref is no fallback for Qdrant");
}

/// A memory file as the bot reads it.
fn git_ref_memory(text: &str) -> Memory {
    nomad_spec::memory::store::parse(text).unwrap_or_else(|e| panic!("{e:#}: {text}"))
}

fn given_in(run: &str) -> Given {
    Given { date: "2026-12-01".to_string(), repository: "acme/shop".to_string(), run: run.into() }
}

#[test]
fn memory_on_the_ref_survives_run_after_run_over_http() {
    let shop = Shop::new();
    for n in 1..=4 {
        let mut opened = git_ref::open(&memory_settings(), &shop.remote(), &bot());
        assert_eq!(opened.note, None);
        assert_eq!(opened.memory.preferences.len(), n - 1);
        let value = format!("ghcr.io/team{n}");
        opened.memory.remember(Preference::new("image.*", &value, "prod", given_in("x")));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        assert_eq!(runtime.block_on(opened.save()), None, "run {n}");
    }
    assert_eq!(shop.memory_commits().len(), 4);
}

#[test]
fn a_memory_ref_that_is_no_memory_is_one_note_and_the_run_goes_on() {
    let shop = Shop::new();
    let file = FileOnRef::new(&shop.remote(), MEMORY_REF, "memory.json").unwrap();
    let pushed = file.push(None, b"{\"format\": 99}", "someone else's", &bot()).unwrap();
    let PushOutcome::Pushed { commit } = pushed else { panic!("{pushed:?}") };

    let checkout = Checkout::fresh();
    let pr = shop.accepted(&checkout, "orders");
    let status = shop.status(pr);
    let notes: Vec<&str> = status.lines().filter(|l| l.contains("memory\\.json on")).collect();
    assert_eq!(notes.len(), 1, "one note:\n{status}");
    assert!(
        notes[0].starts_with(
            "- memory is not used and not written in this run: memory\\.json on \
                              refs/nomad\\-spec/memory of http"
        ),
        "{}",
        notes[0]
    );
    assert!(!status.contains(&shop.github.token()), "{status}");
    assert_eq!(shop.memory_head().as_deref(), Some(commit.as_str()), "left as it is");
}

#[test]
fn a_memory_push_the_forge_refuses_is_one_note_and_the_run_goes_on() {
    let shop = Shop::new();
    let rule = "GH013: Repository rule violations found for refs/nomad-spec/memory.";
    fakes::git_http::refuse_ref(&shop.github.bare_path(), MEMORY_REF, rule).unwrap();
    let checkout = Checkout::fresh();
    let pr = shop.accepted(&checkout, "orders");
    let status = shop.status(pr);
    let notes: Vec<&str> = status.lines().filter(|l| l.contains("was not saved")).collect();
    assert_eq!(notes.len(), 1, "one note:\n{status}");
    assert!(notes[0].contains("GH013"), "the forge's words: {}", notes[0]);
    assert_eq!(shop.memory_head(), None);
    assert!(shop.github.read_file("add-orders", JOB_FILE).is_some(), "the run went on");
}

#[test]
fn a_fix_that_goes_to_a_fix_pull_request_is_not_remembered_as_healthy() {
    let shop = Shop::new();
    let checkout = Checkout::fresh();
    let pr = shop.accepted(&checkout, "orders");
    shop.github.merge_pull_request(pr).unwrap();
    shop.github.protect_default_branch().unwrap();
    let out = ok(&checkout.run(&shop, &shop.github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(shop.github.pulls_by_bot().len(), 1, "a fix pull request: {out}");
    assert!(out.contains("not remembered: its fix was not deployed in this run"), "{out}");
    assert_eq!(shop.episodes(), [], "{}", shop.memory_file());
    assert!(git_ref_memory(&shop.memory_file()).good_jobs.is_empty());
}

#[test]
fn runs_that_end_early_push_no_memory() {
    let shop = Shop::new();
    let github = &shop.github;
    let checkout = Checkout::fresh();
    let pr = shop.accepted(&checkout, "orders");
    let pushed = shop.memory_commits();
    assert_eq!(pushed.len(), 1, "the answers taken: {pushed:?}");

    // Nothing to do, a commenter who may not write, a replay.
    let status = github.post_comment(pr, "alice", "/nomad-spec status").unwrap();
    ok(&checkout.run(&shop, &github.issue_comment_event(status, "created").unwrap()));
    let refused = github.post_comment(pr, "mallory", "/nomad-spec set memory.orders=64").unwrap();
    ok(&checkout.run(&shop, &github.issue_comment_event(refused, "created").unwrap()));
    ok(&checkout.run(&shop, &github.pull_request_event(pr, "opened").unwrap()));
    // A fork's pull request, answered by a writer: its run only reads memory.
    let files = [("Dockerfile", "FROM nginx:1.27\nEXPOSE 80\n")];
    let fork = github.open_fork_pull_request("eve/shop", "patch", &files, "Fork", "eve").unwrap();
    ok(&checkout.run(&shop, &github.pull_request_event(fork, "opened").unwrap()));
    let accept = github.post_comment(fork, "alice", "/nomad-spec accept").unwrap();
    let out = ok(&checkout.run(&shop, &github.issue_comment_event(accept, "created").unwrap()));
    assert!(shop.status(fork).contains("Proposed"), "a suggestion only: {out}");

    assert_eq!(shop.memory_commits(), pushed, "no commit on the memory ref");
}
