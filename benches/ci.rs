//! Benchmark of the pull-request bot (`nomad-spec ci`, the real binary) against the fake GitHub
//! on loopback, on a repository of 1,000 files:
//!
//! - a `pull_request` `opened` run: clone, analyze, post the status comment (target < 1 s);
//! - an `issue_comment` answer run: clone, analyze, read the answer, commit and push the job
//!   file, report the checks, edit the status comment (target < 0.5 s);
//!
//! and the size of the binary measured (build with `cargo bench --bench ci`, which uses the
//! release profile, for the release figure).
//!
//! Each run is done twice, on its own pull request: untraced, and traced (the run's spans
//! kept and exported as OTLP/HTTP JSON to a fake collector at exit), to measure what tracing
//! adds to a run (target < 5%); and one span's cost is measured in-process: opened, given an
//! attribute, closed and kept by the span layer, then encoded for export (target < 1 ms).
//!
//! And each run a third time with memory on (issue 14): the memory ref
//! (`refs/nomad-spec/memory`) fetched at start and, when the run learned something (the
//! answer run's answers), pushed at the end, with compare-and-swap. The other two variants run
//! with memory off, so that they measure what they name (target: the run still under 1 s).
//!
//! Each run is a fresh process and a fresh pull request, as in CI. `BENCH_TMPDIR` sets the
//! folder the bot clones into (default: the system's temporary folder); how long that folder
//! takes to hold the repository's files, written without git, before the runs and after them,
//! is printed beside the runs, as the part of a run no code of ours can remove while a run
//! writes a checkout. No service but the
//! fake GitHub is configured: Vault, Consul, Fabio and Nomad checks are skipped, as they are
//! when a repository configures none. Figures are in `bench/README.md`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fakes::github::FakeGitHub;
use fakes::otlp::FakeCollector;

mod common;

const RUNS: usize = 5;
const FILES: usize = 1_000;

fn main() {
    let github = FakeGitHub::start().expect("fake GitHub");
    github.add_user("alice", "write");
    github.commit("main", &[("README.md", "# shop\n")], "initial commit", "alice").unwrap();
    let files = repository();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let dir = tempfile::tempdir().unwrap();
    let tmp = std::env::var("BENCH_TMPDIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let binary = env!("CARGO_BIN_EXE_nomad-spec");
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);

    // Before any clone was made and removed: some file systems (ext4 without a journal)
    // create files far slower for minutes after many were removed.
    let writing_before = write_checkout(&tmp, &files);
    let collector = FakeCollector::start().expect("fake collector");
    let off = ("NOMAD_SPEC_MEMORY", "off".to_string());
    let plain = [off.clone()];
    let traced = [off, ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url())];
    let remembering =
        [("NOMAD_SPEC_MEMORY", "on".to_string()), ("NOMAD_SPEC_MEMORY_CLUSTER", "bench".into())];
    let variants = [("", &plain[..]), ("-traced", &traced[..]), ("-memory", &remembering[..])];
    // Opened and answer runs of each variant, as they were timed.
    let mut times: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); variants.len()];
    for run in 0..RUNS + 1 {
        for (index, (variant, extra)) in variants.iter().enumerate() {
            let branch = format!("add-app-{run}{variant}");
            github.commit(&branch, &files, "add the app", "alice").unwrap();
            let pr = github.open_pull_request(&branch, "Add the shop", "alice").unwrap();
            let event = github.pull_request_event(pr, "opened").unwrap();
            let n = (run * variants.len() + index) * 2;
            let took = time_run(&github, dir.path(), &tmp, &event, n, extra);
            let comment = github.post_comment(pr, "alice", "/nomad-spec accept").unwrap();
            let event = github.issue_comment_event(comment, "created").unwrap();
            let took_answer = time_run(&github, dir.path(), &tmp, &event, n + 1, extra);
            assert!(github.read_file(&branch, "deploy/shop.nomad.hcl").is_some(), "no commit");
            // The first run warms the file cache and the fake; it is not counted.
            if run > 0 {
                times[index].0.push(took);
                times[index].1.push(took_answer);
            }
        }
    }
    let memory_versions = memory_versions(&github);
    assert!(memory_versions > 0, "the memory-on runs pushed the memory ref");
    let [(opened, answered), (opened_traced, answered_traced), (opened_memory, answered_memory)] =
        <[_; 3]>::try_from(times).expect("three variants");
    let spans = collector.spans();
    assert!(spans.len() > 10 * RUNS, "the traced runs exported their spans: {}", spans.len());
    println!("nomad-spec ci against the fake GitHub, {FILES}-file repository, {RUNS} runs each");
    println!("binary: {binary} ({:.1} MB)", size as f64 / 1_048_576.0);
    println!("clones into: {tmp}");
    let writing_after = write_checkout(&tmp, &files);
    println!(
        "writing the repository's {FILES} files into that folder (what a checkout writes, no git): \
         {:.0} ms before the runs, {:.0} ms after them (their clones removed)",
        writing_before.as_secs_f64() * 1000.0,
        writing_after.as_secs_f64() * 1000.0
    );
    let (opened_median, answered_median) =
        (common::median(opened.clone()), common::median(answered.clone()));
    report("pull_request opened (clone, analyze, comment)", opened, Duration::from_secs(1));
    report(
        "issue_comment answer (clone, analyze, commit, push, checks)",
        answered,
        Duration::from_millis(500),
    );
    let traced_opened = common::median(opened_traced);
    let traced_answered = common::median(answered_traced);
    for (what, plain, with) in
        [("opened", opened_median, traced_opened), ("answer", answered_median, traced_answered)]
    {
        let added = (with.as_secs_f64() / plain.as_secs_f64() - 1.0) * 100.0;
        let verdict = if added < 5.0 { "within" } else { "OVER" };
        println!(
            "traced {what} run: median {:.0} ms, {added:+.1}% ({verdict} the 5% target), {} spans \
             per run exported",
            with.as_secs_f64() * 1000.0,
            spans.len() / (2 * RUNS + 2)
        );
    }
    println!(
        "with memory on ({memory_versions} version(s) pushed to refs/nomad-spec/memory, fetched \
         by every run):"
    );
    report("  pull_request opened, memory fetched", opened_memory, Duration::from_secs(1));
    report(
        "  issue_comment answer, memory fetched, answers pushed",
        answered_memory,
        Duration::from_secs(1),
    );
    let (kept, encoded) = span_cost();
    let verdict = if kept + encoded < Duration::from_millis(1) { "within" } else { "OVER" };
    println!(
        "one span: {:.1} µs kept, {:.1} µs encoded for export ({verdict} the 1 ms target)",
        kept.as_secs_f64() * 1e6,
        encoded.as_secs_f64() * 1e6
    );
}

/// What one span costs in-process: opened, given an attribute and closed under the span
/// layer (as every stage does), and encoded into OTLP JSON at export.
fn span_cost() -> (Duration, Duration) {
    use std::sync::Arc;

    use nomad_spec::telemetry::{self, otlp, Collected, Redaction, SpanLayer, TARGET};
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::Layer as _;
    const SPANS: u32 = 20_000;
    let store = Arc::new(Collected::default());
    let layer = SpanLayer::new(store.clone()).with_filter(filter_fn(|m| m.target() == TARGET));
    let subscriber = tracing_subscriber::registry().with(layer);
    let kept = tracing::subscriber::with_default(subscriber, || {
        let root = telemetry::stage("nomad-spec ci").entered();
        let started = Instant::now();
        for _ in 0..SPANS {
            let _span = telemetry::stage("nomad-spec/validate").entered();
            telemetry::attribute("nomad_spec.check.status", "Success");
        }
        let took = started.elapsed();
        drop(root);
        took
    });
    let (spans, scores) = store.take();
    let redaction = Redaction::new(vec!["s3cr3t-token-value".into()])
        .with_rule(nomad_spec::llm::guard::redact_text);
    let started = Instant::now();
    let body = otlp::request(&spans, &scores, "nomad-spec", &redaction).to_string();
    let encoded = started.elapsed();
    assert!(body.len() > spans.len() * 100);
    (kept / SPANS, encoded / SPANS)
}

fn time_run(
    github: &FakeGitHub,
    dir: &Path,
    tmp: &str,
    (name, payload): &(String, String),
    n: usize,
    extra: &[(&str, String)],
) -> Duration {
    let path = dir.join(format!("event-{n}.json"));
    std::fs::write(&path, payload).unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .arg("ci")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TMPDIR", tmp)
        .envs(github.vars())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", name)
        .env("GITHUB_EVENT_PATH", &path)
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "nomad-spec ci failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    took
}

/// How long the folder the bot clones into takes to hold the repository's files: each file
/// created and written as a checkout does, then the folder removed as the bot removes its
/// workspace (not timed). A run cannot be faster on that folder than this.
fn write_checkout(tmp: &str, files: &[(&str, &str)]) -> Duration {
    let folder = tempfile::Builder::new().prefix("bench-checkout-").tempdir_in(tmp).unwrap();
    let started = Instant::now();
    for (path, text) in files {
        let full = folder.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
    started.elapsed()
}

/// How many versions of memory the runs pushed to the repository's memory ref.
fn memory_versions(github: &FakeGitHub) -> usize {
    let args = ["rev-list", "--count", "refs/nomad-spec/memory"];
    let counted = fakes::git_http::git(&github.bare_path(), &args).unwrap_or_default();
    counted.trim().parse().unwrap_or(0)
}

fn report(what: &str, samples: Vec<Duration>, target: Duration) {
    let worst = samples.iter().max().copied().unwrap_or_default();
    let median = common::median(samples);
    let verdict = if median <= target { "within" } else { "OVER" };
    println!(
        "{what}: median {:.0} ms, worst {:.0} ms ({verdict} the {:.0} ms target)",
        median.as_secs_f64() * 1000.0,
        worst.as_secs_f64() * 1000.0,
        target.as_secs_f64() * 1000.0
    );
}

/// A static site (the nginx fixture's shape) in a repository of 1,000 files: docs, assets and
/// source of realistic sizes around it.
fn repository() -> Vec<(String, String)> {
    let mut files = vec![
        ("Dockerfile".to_string(), "FROM nginx:1.27-alpine\nCOPY html /usr/share/nginx/html\nEXPOSE 80\nHEALTHCHECK CMD wget -qO- http://localhost/ || exit 1\n".to_string()),
        ("html/index.html".to_string(), "<html><body>shop</body></html>\n".to_string()),
    ];
    let paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    let mut n = 0;
    while files.len() < FILES {
        let folder = n / 100;
        let (path, text) = match n % 4 {
            0 => {
                (format!("docs/part-{folder}/page-{n}.md"), format!("# Page {n}\n\n{paragraph}\n"))
            }
            1 => (
                format!("html/assets-{folder}/style-{n}.css"),
                format!(".c{n} {{ color: #{n:06x}; }}\n"),
            ),
            2 => (format!("html/pages-{folder}/page-{n}.html"), format!("<p>{paragraph}</p>\n")),
            _ => (
                format!("data/set-{folder}/item-{n}.json"),
                format!("{{\"id\": {n}, \"text\": \"{paragraph}\"}}\n"),
            ),
        };
        files.push((path, text));
        n += 1;
    }
    files
}
