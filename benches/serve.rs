//! Benchmark of `nomad-spec serve` (the real binary) against the fake GitHub and the fake
//! Nomad (which holds the shared queue and its locks) on loopback:
//!
//! - how long a delivery takes to be accepted (checked, queued in Nomad Variables, answered
//!   202), per delivery: the target is under 10 ms;
//! - 200 deliveries across 20 pull requests (each: `opened`, then nine `/nomad-spec status`
//!   comments), all sent at once and each sent twice: how long until every run is over
//!   (throughput), and that nothing was done twice (one status comment per pull request, one
//!   reaction per command, 200 runs, 200 duplicates refused).
//!
//! `--workers N` sets the server's parallel runs (default 4). Figures are in
//! `bench/README.md`.

use std::path::Path;
use std::time::{Duration, Instant};

use fakes::github::FakeGitHub;
use fakes::nomad::{FakeNomad, Scenario};

mod common;
// The story test's driver of the server process; the benchmark uses part of it.
#[allow(dead_code)]
#[path = "../tests/common/serve.rs"]
mod serve_process;

use serve_process::{fresh, Server};

const PULL_REQUESTS: usize = 20;
const PER_PULL_REQUEST: usize = 10;
const STATUS_MARKER: &str = "<!-- nomad-spec:status -->";

fn main() {
    let workers = std::env::args()
        .skip_while(|arg| arg != "--workers")
        .nth(1)
        .unwrap_or_else(|| "4".to_string());
    let github = FakeGitHub::start().expect("fake GitHub");
    github.add_user("alice", "write");
    github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/nginx-static");
    let files = common::job_files(&fixture);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let nomad = FakeNomad::start(Scenario::default()).expect("fake Nomad");
    let home = tempfile::tempdir().unwrap();

    // The deliveries, made before the clock starts.
    let mut per_pull: Vec<Vec<(String, (String, String))>> = Vec::new();
    let mut commands = Vec::new();
    let mut pulls = Vec::new();
    for n in 0..PULL_REQUESTS {
        let mut deliveries = Vec::new();
        let branch = format!("add-app-{n}");
        github.commit(&branch, &files, "add the app", "alice").unwrap();
        let pr = github.open_pull_request(&branch, "Add the shop", "alice").unwrap();
        pulls.push(pr);
        let opened = fresh(&github.pull_request_event(pr, "opened").unwrap());
        deliveries.push((format!("pr-{pr}-opened"), opened));
        for c in 1..PER_PULL_REQUEST {
            let id = github.post_comment(pr, "alice", "/nomad-spec status").unwrap();
            commands.push(id);
            let event = fresh(&github.issue_comment_event(id, "created").unwrap());
            deliveries.push((format!("pr-{pr}-comment-{c}"), event));
        }
        per_pull.push(deliveries);
    }
    // Interleaved across pull requests, as an organisation's traffic is; in order within one.
    let deliveries: Vec<(String, (String, String))> = (0..PER_PULL_REQUEST)
        .flat_map(|c| per_pull.iter().map(move |pull| pull[c].clone()))
        .collect();

    let mut vars = github.vars();
    vars.remove("GITHUB_REPOSITORY");
    vars.insert("NOMAD_SPEC_GITHUB_WEBHOOK_SECRET".into(), serve_process::SECRET.into());
    vars.insert("NOMAD_SPEC_BOT_LOGIN".into(), github.bot_login());
    vars.insert("NOMAD_ADDR".into(), nomad.url());
    let server = Server::start(&vars, &["--workers", &workers], home.path());

    let started = Instant::now();
    let mut accept = Vec::new();
    for (id, event) in &deliveries {
        let sent = Instant::now();
        let answer = server.deliver(event, id);
        accept.push(sent.elapsed());
        assert_eq!(answer.status, 202, "{id}: {answer:?}");
    }
    let all_accepted = started.elapsed();
    let mut duplicate = Vec::new();
    for (id, event) in &deliveries {
        let sent = Instant::now();
        let answer = server.deliver(event, id);
        duplicate.push(sent.elapsed());
        assert_eq!(answer.status, 200, "{id}: {answer:?}");
    }
    let total = deliveries.len() as u64;
    while server.metric("nomad_spec_runs_total") < total
        || server.metric("nomad_spec_runs_in_flight") > 0
    {
        if started.elapsed() > Duration::from_secs(1800) {
            panic!("the runs did not finish:\n{}", server.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let handled = started.elapsed();

    // Nothing done twice.
    let bot = github.bot_login();
    for pr in &pulls {
        let statuses = github
            .comments(*pr)
            .into_iter()
            .filter(|c| c.author == bot && c.body.contains(STATUS_MARKER))
            .count();
        assert_eq!(statuses, 1, "pull request #{pr} has {statuses} status comments");
    }
    for id in &commands {
        let reactions = github.reactions(*id).into_iter().filter(|r| r.login == bot).count();
        assert_eq!(reactions, 1, "comment {id} was answered {reactions} times");
    }
    assert_eq!(server.metric("nomad_spec_runs_started_total"), total);
    assert_eq!(server.metric("nomad_spec_deliveries_duplicate_total"), total);
    let metrics = server.get("/metrics").body;
    assert!(!metrics.contains("outcome=\"error\""), "{metrics}\n{}", server.log());

    println!(
        "nomad-spec serve, {total} deliveries across {PULL_REQUESTS} pull requests, \
         {workers} workers, queue in the fake Nomad's Variables"
    );
    report("delivery accepted (202)", accept, Duration::from_millis(10));
    report("duplicate refused (200)", duplicate, Duration::from_millis(10));
    println!("all {total} accepted in {:.2} s", all_accepted.as_secs_f64());
    println!(
        "all {total} handled in {:.1} s: {:.2} runs/s, no run twice, one status comment per \
         pull request",
        handled.as_secs_f64(),
        total as f64 / handled.as_secs_f64()
    );
}

fn report(what: &str, mut samples: Vec<Duration>, target: Duration) {
    samples.sort();
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    let worst = samples.last().copied().unwrap_or_default();
    let median = common::median(samples);
    let verdict = if median <= target { "within" } else { "OVER" };
    println!(
        "{what}: median {:.1} ms, p99 {:.1} ms, worst {:.1} ms ({verdict} the {:.0} ms target)",
        median.as_secs_f64() * 1000.0,
        p99.as_secs_f64() * 1000.0,
        worst.as_secs_f64() * 1000.0,
        target.as_secs_f64() * 1000.0
    );
}
