//! Traces of real runs, read back from the fakes that received them: a whole pull request of
//! `nomad-spec ci` (opened, answered in free form through the LLM, merged, deployed, OOM,
//! fixed, healthy) exported to a fake LangFuse, with its spans, attributes and scores and no
//! secret of the run anywhere in what LangFuse received; a command exported to a collector
//! named by the `OTEL_EXPORTER_OTLP_*` variables; a collector that is down costing one note;
//! `--trace` printing the tree with no collector at all; and the status comment's footer
//! naming the prompt versions each run used, a version edited in LangFuse showing in the next.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::bot::ok;
use fakes::github::FakeGitHub;
use fakes::langfuse::FakeLangfuse;
use fakes::llm::{FakeLlm, Reply, Rule, Script};
use fakes::nomad::{FakeNomad, JobRule, Scenario};
use fakes::otlp::{FakeCollector, ReceivedSpan};

const PUBLIC_KEY: &str = "pk-lf-telemetry";

/// The secrets of the run, each distinct and recognisable.
fn secrets() -> BTreeMap<&'static str, String> {
    let tail = "Tl3m7Qx2Wv9Lm4Zt8Kp3Hs6Jd1Fg5RbY";
    BTreeMap::from([
        ("NOMAD_TOKEN", format!("nomadtok-{tail}")),
        ("NOMAD_SPEC_LLM_API_KEY", format!("sk-llm-{tail}")),
        ("LANGFUSE_SECRET_KEY", format!("sk-lf-{tail}")),
        ("a password in a reply", format!("pw-{tail}")),
    ])
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static")
}

/// Every secret found in `text`.
fn leaks(text: &str) -> Vec<&'static str> {
    secrets().into_iter().filter(|(_, v)| text.contains(v.as_str())).map(|(k, _)| k).collect()
}

struct Story {
    github: FakeGitHub,
    nomad: FakeNomad,
    llm: FakeLlm,
    langfuse: FakeLangfuse,
    dir: tempfile::TempDir,
    runs: std::cell::Cell<u32>,
}

impl Story {
    fn new() -> Story {
        Story::reviewed_with(serde_json::json!({"changes": []}))
    }

    /// A story whose LLM answers the `refine` task's review of the job with `review`.
    fn reviewed_with(review: serde_json::Value) -> Story {
        let github = FakeGitHub::start().unwrap();
        github.add_user("alice", "write");
        github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
        let files = common::files_of(&fixture());
        let files: Vec<(&str, &str)> =
            files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
        github.commit("add-app", &files, "add the app", "alice").unwrap();
        let scenario = Scenario::default().with_rule(JobRule::for_job("*").oom_below_mb(100));
        let nomad = FakeNomad::start(scenario).unwrap();
        let llm = FakeLlm::start(Script::new(vec![
            Rule::task(
                "questions",
                Reply::Json(serde_json::json!({"questions": [{
                    "key": "image.shop", "prompt": "Which registry image runs the shop site?",
                    "default": "", "reason": "the Dockerfile builds it here", "new": false
                }]})),
            ),
            Rule::task(
                "answers",
                Reply::Json(serde_json::json!({
                    "assignments": [{"key": "image.shop", "value": "ghcr.io/acme/shop:2.0"}],
                    "unclear": []
                })),
            ),
            Rule::task("refine", Reply::Json(review)),
        ]))
        .unwrap();
        let langfuse = FakeLangfuse::start(PUBLIC_KEY, &secrets()["LANGFUSE_SECRET_KEY"]).unwrap();
        Story {
            github,
            nomad,
            llm,
            langfuse,
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
        let secrets = secrets();
        vars.extend([
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_EVENT_NAME".into(), name.clone()),
            ("GITHUB_EVENT_PATH".into(), event_path.display().to_string()),
            ("NOMAD_ADDR".into(), self.nomad.url()),
            ("NOMAD_TOKEN".into(), secrets["NOMAD_TOKEN"].clone()),
            ("NOMAD_SPEC_LLM_BASE_URL".into(), self.llm.url()),
            ("NOMAD_SPEC_LLM_API_KEY".into(), secrets["NOMAD_SPEC_LLM_API_KEY"].clone()),
            ("NOMAD_SPEC_LLM_MODEL".into(), "qwen2.5-0.5b-instruct".into()),
            ("LANGFUSE_HOST".into(), self.langfuse.url()),
            ("LANGFUSE_PUBLIC_KEY".into(), PUBLIC_KEY.into()),
            ("LANGFUSE_SECRET_KEY".into(), secrets["LANGFUSE_SECRET_KEY"].clone()),
            ("RUST_LOG".into(), "trace".into()),
        ]);
        Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
            .arg("ci")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(&vars)
            .output()
            .unwrap()
    }
}

fn by_trace(spans: &[ReceivedSpan]) -> BTreeMap<String, Vec<&ReceivedSpan>> {
    let mut traces: BTreeMap<String, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id.clone()).or_default().push(span);
    }
    traces
}

/// Each trace has one root and every other span's parent is in the same trace.
#[track_caller]
fn assert_trees(spans: &[ReceivedSpan]) {
    for (trace, spans) in by_trace(spans) {
        let roots: Vec<&&ReceivedSpan> = spans.iter().filter(|s| s.parent.is_none()).collect();
        assert_eq!(roots.len(), 1, "trace {trace} has one root: {spans:#?}");
        let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        for span in &spans {
            if let Some(parent) = &span.parent {
                assert!(ids.contains(parent.as_str()), "{} has a parent in its trace", span.name);
            }
            assert!(span.start >= roots[0].start && span.end <= roots[0].end, "{span:?}");
        }
    }
}

#[test]
fn a_whole_pull_request_is_traced_to_langfuse_with_scores_and_no_secret() {
    let story = Story::new();
    let github = &story.github;
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    ok(&story.run(&github.pull_request_event(pr, "opened").unwrap()));
    let body = format!(
        "Please deploy it from ghcr.io/acme/shop:2.0. The database password: {}",
        secrets()["a password in a reply"]
    );
    let comment = github.post_comment(pr, "alice", &body).unwrap();
    ok(&story.run(&github.issue_comment_event(comment, "created").unwrap()));
    github.merge_pull_request(pr).unwrap();
    let out = ok(&story.run(&github.pull_request_event(pr, "closed").unwrap()));
    assert_eq!(story.nomad.register_calls("shop"), 2, "OOM, then the fix: {out}");

    let langfuse = &story.langfuse;
    let spans = langfuse.spans();
    assert_trees(&spans);
    let roots: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.parent.is_none()).collect();
    assert_eq!(roots.len(), 3, "one trace per run: {roots:#?}");
    for root in &roots {
        assert_eq!(root.name, "nomad-spec ci");
        assert_eq!(root.service, "nomad-spec");
        assert_eq!(root.text("nomad_spec.repository").as_deref(), Some("acme/shop"));
        assert_eq!(root.text("nomad_spec.change_request"), Some(pr.to_string()));
        assert_eq!(root.text("langfuse.trace.name").as_deref(), Some("nomad-spec ci"));
        assert!(root.text("nomad_spec.event").is_some(), "{root:?}");
    }
    let verdicts: Vec<String> = roots.iter().filter_map(|r| r.text("nomad_spec.verdict")).collect();
    assert_eq!(verdicts.len(), 3, "{roots:#?}");
    assert_eq!(verdicts.last().map(String::as_str), Some("healthy"), "{verdicts:?}");
    assert!(langfuse.ingestion_versions().iter().all(|v| v.as_deref() == Some("4")));

    // The stages, each check, each deploy attempt, each LLM call.
    let names: BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for stage in [
        "clone",
        "analyze",
        "questions",
        "generate",
        "checks",
        "nomad-spec/validate",
        "nomad-spec/secrets",
        "nomad-spec/routes",
        "nomad-spec/plan",
        "deploy",
        "llm questions",
        "llm answers",
    ] {
        assert!(names.contains(stage), "a `{stage}` span: {names:?}");
    }
    let answers = spans.iter().find(|s| s.name == "llm answers").unwrap();
    assert_eq!(answers.text("langfuse.observation.type").as_deref(), Some("generation"));
    assert_eq!(answers.text("gen_ai.request.model").as_deref(), Some("qwen2.5-0.5b-instruct"));
    assert_eq!(answers.text("gen_ai.usage.input_tokens").as_deref(), Some("100"), "{answers:?}");
    assert!(answers.attributes["gen_ai.usage.output_tokens"].as_i64() > Some(0));
    assert_eq!(answers.text("nomad_spec.prompt.name").as_deref(), Some("answers"));
    assert_eq!(answers.text("nomad_spec.prompt.source").as_deref(), Some("built in"));
    assert!(answers.text("nomad_spec.prompt.version").is_some(), "{answers:?}");
    // A built-in prompt is not passed off as a LangFuse version of the same number.
    assert_eq!(answers.text("langfuse.observation.prompt.version"), None);
    assert_eq!(answers.text("nomad_spec.guard.verdict").as_deref(), Some("accepted"));
    let input = answers.text("langfuse.observation.input").unwrap_or_default();
    assert!(input.contains("ghcr.io/acme/shop:2.0") && input.contains("[redacted]"), "{input}");
    let deploys: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.name == "deploy").collect();
    let outcomes: Vec<String> =
        deploys.iter().filter_map(|s| s.text("nomad_spec.deploy.outcome")).collect();
    assert_eq!(outcomes, ["failed", "healthy"], "{deploys:#?}");
    let oom = deploys[0];
    assert!(oom.error.is_some() && oom.text("nomad_spec.deploy.fix").is_some(), "{oom:?}");

    // Outcomes as scores on the merge's trace.
    let merge_trace = &roots.iter().max_by_key(|r| r.start).unwrap().trace_id;
    let scores = langfuse.scores();
    let healthy: Vec<f64> = scores
        .iter()
        .filter(|s| &s.trace_id == merge_trace && s.name == "deploy_healthy")
        .map(|s| s.value)
        .collect();
    assert_eq!(healthy, [0.0, 1.0], "{scores:#?}");
    assert!(scores.iter().any(|s| s.name == "fix_iterations" && s.value == 1.0), "{scores:#?}");

    // No secret in anything LangFuse received, nor in the fakes' logs of the run.
    for request in langfuse.faults().seen() {
        assert!(leaks(&request).is_empty(), "LangFuse received {:?}:\n{request}", leaks(&request));
    }
    assert!(leaks(&format!("{spans:?}")).is_empty());
}

/// Runs `nomad-spec ARGS` on the fixture with only `vars` set.
fn command(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn a_collector_named_by_the_otel_variables_gets_the_trace_with_its_headers() {
    let token = "otlp-tok-Tl3m7Qx2Wv9Lm4Zt8";
    let collector = FakeCollector::requiring("x-otlp-token", token).unwrap();
    let url = collector.url();
    let headers = format!("x-otlp-token={token}");
    let path = fixture().display().to_string();
    let out = command(
        &["generate", "--path", &path, "-o", "-"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
            ("OTEL_EXPORTER_OTLP_HEADERS", &headers),
            ("OTEL_SERVICE_NAME", "shop-bot"),
        ],
    );
    let stderr = ok(&out);
    assert!(!stderr.contains("traces not sent"), "{stderr}");
    let spans = collector.spans();
    assert_trees(&spans);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"nomad-spec generate"), "{names:?}");
    assert!(names.contains(&"analyze") && names.contains(&"generate"), "{names:?}");
    assert!(spans.iter().all(|s| s.service == "shop-bot"));
    for request in collector.faults().seen() {
        assert!(!request.contains(token), "{request}");
    }
}

#[test]
fn a_collector_down_costs_one_note_and_the_run_stands() {
    let path = fixture().display().to_string();
    let down = fakes::faults::refused_url();
    let out = command(
        &["generate", "--path", &path, "-o", "-"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &down)],
    );
    let stderr = ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("job \"nginx-static\""));
    assert_eq!(stderr.matches("traces not sent").count(), 1, "{stderr}");
    assert!(stderr.contains("note: traces not sent to http://127.0.0.1:1/v1/traces"), "{stderr}");
    let grpc = command(
        &["generate", "--path", &path, "-o", "-"],
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")],
    );
    let stderr = ok(&grpc);
    assert_eq!(stderr.matches("`grpc` is not supported").count(), 1, "{stderr}");
    // A command that fails keeps its own exit code; the trace's note comes once.
    let failing = command(
        &["validate", "/no/such/file.nomad.hcl"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &down)],
    );
    assert_eq!(failing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&failing.stderr);
    assert_eq!(stderr.matches("traces not sent").count(), 1, "{stderr}");
}

#[test]
fn trace_prints_the_span_tree_with_timings_and_no_collector() {
    let path = fixture().display().to_string();
    let out = command(&["generate", "--trace", "--path", &path, "-o", "-"], &[]);
    let stderr = ok(&out);
    let tree: Vec<&str> = stderr.lines().skip_while(|l| !l.starts_with("trace ")).collect();
    assert!(tree.len() >= 4, "{stderr}");
    assert_eq!(tree[0].len(), "trace ".len() + 32, "{stderr}");
    assert!(tree[1].starts_with("nomad-spec generate ") && tree[1].contains(" ms"), "{stderr}");
    assert!(tree[2].starts_with("├─ analyze ") && tree[2].contains(" ms"), "{stderr}");
    assert!(tree[3].starts_with("└─ generate "), "{stderr}");
    let quiet = command(&["generate", "--path", &path, "-o", "-"], &[]);
    assert!(!ok(&quiet).contains("trace "), "no tree without --trace");
}

/// The answers prompt as a LangFuse version: the task's placeholders and a marker.
fn answers_prompt(marker: &str) -> String {
    format!(
        "{marker}: read the reply into KEY=VALUE assignments.\nKeys: {{{{keys}}}}\n\
         Services: {{{{services}}}}\nQuestions: {{{{questions}}}}\nReply: {{{{reply}}}}\n"
    )
}

#[test]
fn a_prompt_changed_in_langfuse_is_used_by_the_next_run_and_the_shipped_one_when_it_is_down() {
    use fakes::faults::Fault;
    let llm = FakeLlm::start(Script::new(vec![
        Rule::task("answers", Reply::Json(serde_json::json!({"assignments": [], "unclear": []}))),
        Rule::task("refine", Reply::Json(serde_json::json!({"changes": []}))),
    ]))
    .unwrap();
    let secret = secrets()["LANGFUSE_SECRET_KEY"].clone();
    let langfuse = FakeLangfuse::start(PUBLIC_KEY, &secret).unwrap();
    langfuse.put_prompt("answers", &answers_prompt("MARKER-ONE"), &["production"]);
    langfuse.put_prompt("answers", &answers_prompt("MARKER-STAGING"), &["staging"]);
    let (llm_url, langfuse_url) = (llm.url(), langfuse.url());
    let path = fixture().display().to_string();
    let run = |label: &str| {
        let out = command(
            &["generate", "--path", &path, "-o", "-", "--prompt", "deploy the site"],
            &[
                ("NOMAD_SPEC_LLM_BASE_URL", &llm_url),
                ("LANGFUSE_HOST", &langfuse_url),
                ("LANGFUSE_PUBLIC_KEY", PUBLIC_KEY),
                ("LANGFUSE_SECRET_KEY", &secret),
                ("NOMAD_SPEC_PROMPT_LABEL", label),
            ],
        );
        let stderr = ok(&out);
        let requests = llm.requests();
        let answers = requests.iter().rfind(|r| r.task.as_deref() == Some("answers"));
        let asked = answers.map(|r| r.body.clone()).unwrap_or_default();
        (asked, stderr)
    };
    let generation = |version: i64| {
        langfuse.spans().into_iter().any(|s| {
            s.name == "llm answers"
                && s.attributes.get("langfuse.observation.prompt.version")
                    == Some(&serde_json::json!(version))
                && s.text("langfuse.observation.prompt.name").as_deref() == Some("answers")
        })
    };

    let (asked, _) = run("production");
    assert!(asked.contains("MARKER-ONE") && asked.contains("deploy the site"), "{asked}");
    assert!(generation(1), "the generation names LangFuse's version 1");

    // A person edits the prompt in LangFuse: the next run uses the new production version.
    let three = langfuse.put_prompt("answers", &answers_prompt("MARKER-THREE"), &["production"]);
    assert_eq!(three, 3);
    let (asked, _) = run("production");
    assert!(asked.contains("MARKER-THREE") && !asked.contains("MARKER-ONE"), "{asked}");
    assert!(generation(3));
    let (asked, _) = run("staging");
    assert!(asked.contains("MARKER-STAGING"), "{asked}");
    let fetches = langfuse.prompt_fetches();
    let fetches: Vec<&String> = fetches.iter().filter(|f| f.starts_with("answers")).collect();
    assert_eq!(
        fetches,
        ["answers?label=production", "answers?label=production", "answers?label=staging"]
    );

    // A version that does not fit the task (a placeholder lost) is not used.
    langfuse.put_prompt("answers", "MARKER-BROKEN without the reply", &["production"]);
    let (asked, _) = run("production");
    assert!(!asked.contains("MARKER-BROKEN"), "{asked}");
    assert!(asked.contains("You help deploy a repository to HashiCorp Nomad"), "{asked}");

    // LangFuse down: the shipped prompt, and the run goes on.
    langfuse.faults().play(Fault::status(503, "").under("/api/public"));
    let (asked, stderr) = run("production");
    assert!(asked.contains("You help deploy a repository to HashiCorp Nomad"), "{asked}");
    assert!(asked.contains("(prompt version 1)"), "{asked}");
    assert!(stderr.contains("the built-in prompt stands"), "{stderr}");
    assert_eq!(stderr.matches("traces not sent").count(), 1, "{stderr}");
    assert!(!stderr.contains(&secret), "{stderr}");
}

/// `serve` runs until stopped: each delivery's run is the root of a trace of its own, and the
/// spans reach the collector while the server runs, not only when it stops.
#[test]
fn serve_sends_each_delivery_as_a_trace_of_its_own_while_it_runs() {
    use common::serve::{fresh, Server, SECRET};
    let github = FakeGitHub::start().unwrap();
    github.add_user("alice", "write");
    github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
    let files = common::files_of(&fixture());
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    github.commit("add-app", &files, "add the app", "alice").unwrap();
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    let nomad = FakeNomad::start(Scenario::default()).unwrap();
    let collector = FakeCollector::start().unwrap();
    let mut vars = github.vars();
    vars.remove("GITHUB_REPOSITORY");
    vars.insert("NOMAD_SPEC_GITHUB_WEBHOOK_SECRET".into(), SECRET.into());
    vars.insert("NOMAD_SPEC_BOT_LOGIN".into(), github.bot_login());
    vars.insert("NOMAD_ADDR".into(), nomad.url());
    vars.insert("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.url());
    let home = tempfile::tempdir().unwrap();
    let server = Server::start(&vars, &[], home.path());
    let opened = fresh(&github.pull_request_event(pr, "opened").unwrap());
    assert_eq!(server.deliver(&opened, "d-opened").status, 202);
    // Waits for the periodic export (every 10 s) while the server keeps running; a bound so
    // that a server that never sends fails rather than hangs.
    let started = std::time::Instant::now();
    let run = loop {
        let found = collector.spans().into_iter().find(|s| s.name == "run");
        if let Some(run) = found {
            break run;
        }
        assert!(started.elapsed().as_secs() < 120, "no run exported:\n{}", server.log());
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(run.parent, None, "a delivery's run is the root of its trace: {run:?}");
    assert_eq!(run.text("nomad_spec.repository").as_deref(), Some("acme/shop"));
    assert_eq!(run.text("nomad_spec.change_request"), Some(pr.to_string()));
    assert!(run.text("nomad_spec.verdict").is_some(), "{run:?}");
    let spans = collector.spans();
    let children: Vec<&str> = spans
        .iter()
        .filter(|s| s.parent.as_deref() == Some(run.span_id.as_str()))
        .map(|s| s.name.as_str())
        .collect();
    assert!(children.contains(&"analyze") && children.contains(&"clone"), "{children:?}");
    assert_trees(&spans.iter().filter(|s| s.trace_id == run.trace_id).cloned().collect::<Vec<_>>());
}

/// The status comment of pull request `pr`, as the bot last left it.
fn status_comment(github: &FakeGitHub, pr: u64) -> String {
    let comments = github.bot_comments(pr);
    let status = comments.into_iter().find(|c| c.starts_with(common::bot::STATUS_MARKER));
    status.unwrap_or_else(|| panic!("no status comment on #{pr}"))
}

/// The footer line naming the prompts used.
fn prompts_footer(status: &str) -> String {
    let line = status.lines().find(|l| l.contains("LLM prompts used in this run"));
    line.unwrap_or_default().to_string()
}

/// Each run's status comment names the prompts its LLM tasks used, with their versions and
/// where they came from: the shipped ones as `task@N`, LangFuse's as `task@N (LangFuse,
/// production)`. A version edited in LangFuse between two runs shows in the next run's footer.
/// The bot also has the LLM review the job it generates: the accepted change is in the
/// committed file and is a decision naming the prompt; the change the guardrails refuse is a
/// line of the CI log only.
#[test]
fn the_status_comment_names_the_prompt_versions_each_run_used() {
    let change = |field: &str, name: &str, value: &str, reason: &str| {
        serde_json::json!({"field": field, "group": "shop", "task": "shop", "name": name,
                           "value": value, "reason": reason})
    };
    let story = Story::reviewed_with(serde_json::json!({"changes": [
        change("memory", "", "128", "nginx with gzip buffers needs more than 64 MB"),
        change("port", "http", "70000", "a port of its own"),
    ]}));
    let (github, langfuse) = (&story.github, &story.langfuse);
    langfuse.put_prompt("answers", &answers_prompt("MARKER-ONE"), &["production"]);
    let builtin = |task: &str| {
        let prompt = nomad_spec::llm::prompt::Prompt::builtin(task).unwrap();
        format!("<code>{task}&#64;{}</code>", prompt.version)
    };
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    ok(&story.run(&github.pull_request_event(pr, "opened").unwrap()));
    let footer = prompts_footer(&status_comment(github, pr));
    assert!(footer.contains(&builtin("questions")), "{footer}");
    assert!(!footer.contains("answers"), "no reply was read yet: {footer}");

    let reply = "Please deploy it from ghcr.io/acme/shop:2.0, thanks.";
    let comment = github.post_comment(pr, "alice", reply).unwrap();
    let log = ok(&story.run(&github.issue_comment_event(comment, "created").unwrap()));
    let status = status_comment(github, pr);
    let footer = prompts_footer(&status);
    assert!(footer.contains("<code>answers&#64;1 \\(LangFuse, production\\)</code>"), "{footer}");
    assert!(!footer.contains(&builtin("answers")), "{footer}");
    // The LLM's review of the generated job: the accepted change committed and stated.
    assert!(footer.contains(&builtin("refine")), "{footer}");
    let job = github.read_file("add-app", "deploy/shop.nomad.hcl").unwrap_or_default();
    assert!(job.contains("memory = 128"), "{job}");
    assert!(!job.contains("70000"), "{job}");
    assert!(status.contains("\\(LLM, refine&#64;2\\)"), "{status}");
    assert!(status.contains("nginx with gzip buffers needs more than 64 MB"), "{status}");
    assert!(!status.contains("70000"), "a refused change is not a decision: {status}");
    assert!(log.contains("refused change 2 (port): 70000 (port) is outside 1..=65535"), "{log}");

    // A person edits the prompt in LangFuse: the next run's footer names the new version.
    let two = langfuse.put_prompt("answers", &answers_prompt("MARKER-TWO"), &["production"]);
    let again = "Same image as before: ghcr.io/acme/shop:2.0, nothing else.";
    let comment = github.post_comment(pr, "alice", again).unwrap();
    ok(&story.run(&github.issue_comment_event(comment, "created").unwrap()));
    let footer = prompts_footer(&status_comment(github, pr));
    let edited = format!("<code>answers&#64;{two} \\(LangFuse, production\\)</code>");
    assert!(footer.contains(&edited), "{footer}");
    assert!(!footer.contains("answers&#64;1 "), "{footer}");
    assert!(story.llm.requests().iter().any(|r| r.body.contains("MARKER-TWO")));
}

/// Without an LLM, the status comment names no prompt.
#[test]
fn without_an_llm_the_status_comment_names_no_prompt() {
    let github = FakeGitHub::start().unwrap();
    github.add_user("alice", "write");
    github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
    let files = common::files_of(&fixture());
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    github.commit("add-app", &files, "add the app", "alice").unwrap();
    let pr = github.open_pull_request("add-app", "Add the shop", "alice").unwrap();
    let (name, payload) = github.pull_request_event(pr, "opened").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, payload).unwrap();
    let mut vars: BTreeMap<String, String> = github.vars();
    vars.extend([
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_EVENT_NAME".into(), name),
        ("GITHUB_EVENT_PATH".into(), event_path.display().to_string()),
    ]);
    ok(&common::bot::run_ci(dir.path(), &vars));
    let status = status_comment(&github, pr);
    assert!(status.contains("### What I found"), "{status}");
    assert_eq!(prompts_footer(&status), "", "{status}");
}
