//! `nomad-spec eval` on the shipped dataset (`datasets/fixtures`), with the LLM off and with
//! the scripted fake LLM refining each job: both print the same figures, the second adds the
//! LLM's calls and tokens, and a rejected refinement leaves the rules' job in place. The
//! figures the rules reach are written down here, so a regression fails.

use std::process::Command;

use fakes::llm::{FakeLlm, Reply, Rule, Script};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_nomad-spec");

fn eval(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.current_dir(env!("CARGO_MANIFEST_DIR")).arg("eval").args(args);
    for name in
        ["NOMAD_SPEC_LLM_BASE_URL", "OPENAI_BASE_URL", "NOMAD_SPEC_LLM_API_KEY", "OPENAI_API_KEY"]
    {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn report(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
fn the_dataset_is_scored_without_the_llm() {
    let (code, stdout, stderr) = eval(&["--dataset", "datasets/fixtures", "--format", "json"], &[]);
    assert_eq!(code, 0, "{stderr}");
    let report = report(&stdout);
    assert_eq!(report["llm"], "off");
    assert!(report["cases"].as_array().is_some_and(|c| c.len() >= 8), "{stdout}");
    assert_eq!((&report["valid_jobs"], &report["jobs"]), (&json!(10), &json!(10)), "validity");
    // What the rules reach today, field by field (matched, total). The one miss: the gRPC
    // service's check is `tcp`, since Nomad's own service checks have no gRPC kind. A lower
    // figure is a regression; a higher one is progress to write down here.
    let expected = [
        ("dependencies", 6, 6),
        ("health", 8, 9),
        ("image", 2, 2),
        ("language", 7, 7),
        ("memory_min", 1, 1),
        ("ports", 9, 9),
        ("secrets", 8, 8),
    ];
    let figures: Vec<(&str, u64, u64)> = report["accuracy"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(field, score)| {
            let count = |key: &str| score[key].as_u64().unwrap_or_default();
            (field.as_str(), count("matched"), count("total"))
        })
        .collect();
    assert_eq!(figures, expected, "accuracy per field (matched, total)");
    assert_eq!(report["usage"]["calls"], 0);
    let (code, text, _) = eval(&["--dataset", "datasets/fixtures"], &[]);
    assert_eq!(code, 0);
    assert!(text.contains("\naccuracy\n") && text.contains("spec validity "), "{text}");
}

#[test]
fn the_fake_llm_refines_and_its_cost_is_reported() {
    let llm = FakeLlm::start(Script::new(vec![
        Rule::task(
            "refine",
            Reply::Json(json!({"changes": [{"field": "memory", "group": "memory-hungry",
                "task": "memory-hungry", "name": "", "value": "100000", "reason": "more"}]})),
        )
        .containing("memory-hungry"),
        Rule::task("refine", Reply::Json(json!({"changes": []}))),
    ]))
    .unwrap_or_else(|e| panic!("{e:#}"));
    let url = llm.url();
    let args = ["--dataset", "datasets/fixtures", "--llm", "on", "--format", "json"];
    let (code, stdout, stderr) = eval(&args, &[("NOMAD_SPEC_LLM_BASE_URL", &url)]);
    assert_eq!(code, 0, "{stderr}");
    let on = report(&stdout);
    let (_, stdout, _) = eval(&["--dataset", "datasets/fixtures", "--format", "json"], &[]);
    let off = report(&stdout);
    assert_eq!(on["llm"], "on");
    assert_eq!(on["prompts"]["refine"], "2");
    assert_eq!(on["accuracy"], off["accuracy"], "no accepted change, same figures");
    assert_eq!(on["valid_jobs"], off["valid_jobs"]);
    let calls = on["usage"]["calls"].as_u64().unwrap_or(0);
    assert_eq!(Some(calls), off["jobs"].as_u64(), "one refine call per job");
    assert!(on["usage"]["prompt_tokens"].as_u64().is_some_and(|t| t > 0));
    let notes = on["cases"].to_string();
    assert!(notes.contains("100000 MB is outside 16..=65536 MB"), "{notes}");
}

#[test]
fn llm_on_without_an_llm_is_a_clear_error() {
    let (code, _, stderr) = eval(&["--dataset", "datasets/fixtures", "--llm", "on"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no LLM is configured (set NOMAD_SPEC_LLM_BASE_URL)"), "{stderr}");
    let (code, _, stderr) = eval(&["--dataset", "no/such/folder"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read the dataset no/such/folder"), "{stderr}");
}

#[test]
fn a_prompt_version_can_be_compared() {
    let llm = FakeLlm::start(Script::new(vec![Rule::task(
        "refine",
        Reply::Json(json!({"changes": []})),
    )]))
    .unwrap_or_else(|e| panic!("{e:#}"));
    let prompts = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/prompts/refine.md"))
            .unwrap_or_else(|e| panic!("{e}"));
    let terse = shipped.replace("version: 2", "version: 2-terse");
    std::fs::write(prompts.path().join("refine.2-terse.md"), terse)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(prompts.path().join("refine.3.md"), &shipped).unwrap_or_else(|e| panic!("{e}"));
    let dir = prompts.path().display().to_string();
    let url = llm.url();
    let env = [("NOMAD_SPEC_LLM_BASE_URL", url.as_str())];
    let mut args = vec!["--dataset", "datasets/fixtures", "--llm", "on", "--format", "json"];
    args.extend(["--prompts", &dir, "--prompt-version", "refine=2-terse"]);
    let (code, stdout, stderr) = eval(&args, &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report(&stdout)["prompts"]["refine"], "2-terse");
    assert!(llm.requests().iter().all(|r| r.body.contains("(prompt version 2-terse)")));

    let mismatch = [
        "--dataset",
        "datasets/fixtures",
        "--llm",
        "on",
        "--prompts",
        &dir,
        "--prompt-version",
        "refine=3",
    ];
    let (code, _, stderr) = eval(&mismatch, &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("its front matter says refine version 2, not refine version 3"),
        "{stderr}"
    );
}

/// The LLM's review as `generate` and the bot run it, on a case whose app needs more memory
/// than the rules give: the fake proposes one good change (1024 MB) and one harmful one (a
/// container port no job can have). The guardrails refuse the harmful one and keep the good
/// one, and eval prints the figures of the rules alone and with the LLM side by side: memory
/// rises, nothing falls. This is what keeps the review on by default (README).
#[test]
fn eval_shows_what_the_llm_review_changes_side_by_side() {
    let dataset = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let case = dataset.path().join("flask-needs-memory");
    std::fs::create_dir(&case).unwrap_or_else(|e| panic!("{e}"));
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/repos/flask-postgres");
    let expected = format!(
        "path = {app:?}\nservice = \"api\"\nports = [8000]\nhealth = \"http:/healthz\"\n\
         memory_min = 1024\n"
    );
    std::fs::write(case.join("expected.toml"), expected).unwrap_or_else(|e| panic!("{e}"));
    let change = |field: &str, name: &str, value: &str, reason: &str| {
        json!({"field": field, "group": "api", "task": "api", "name": name, "value": value,
               "reason": reason})
    };
    let llm = FakeLlm::start(Script::new(vec![Rule::task(
        "refine",
        Reply::Json(json!({"changes": [
            change("memory", "", "1024", "gunicorn's four workers need about 1 GB"),
            change("port", "http", "70000", "a port of its own"),
        ]})),
    )]))
    .unwrap_or_else(|e| panic!("{e:#}"));
    let url = llm.url();
    let env = [("NOMAD_SPEC_LLM_BASE_URL", url.as_str())];
    let dir = dataset.path().display().to_string();

    let (code, stdout, stderr) =
        eval(&["--dataset", &dir, "--llm", "on", "--format", "json"], &env);
    assert_eq!(code, 0, "{stderr}");
    let on = report(&stdout);
    let (_, stdout, _) = eval(&["--dataset", &dir, "--format", "json"], &[]);
    let off = report(&stdout);
    assert_eq!(on["rules"]["accuracy"], off["accuracy"], "the rules' figures, beside");
    assert_eq!(off["accuracy"]["memory_min"], json!({"matched": 0, "total": 1}));
    assert_eq!(on["accuracy"]["memory_min"], json!({"matched": 1, "total": 1}));
    assert_eq!(on["accuracy"]["ports"], off["accuracy"]["ports"], "the harmful change refused");
    assert_eq!((&on["valid_jobs"], &on["jobs"]), (&off["valid_jobs"], &off["jobs"]));
    assert_eq!(on["lowered"], json!([]), "{stdout}");
    let notes = on["cases"][0]["notes"].to_string();
    assert!(notes.contains("LLM proposed 2 change(s), 1 accepted"), "{notes}");
    assert!(
        notes.contains("refused change 2 (port): 70000 (port) is outside 1..=65535"),
        "{notes}"
    );
    assert!(notes.contains("LLM changed memory of `api`: 1024 MB"), "{notes}");
    assert!(notes.contains("(LLM, refine@2)"), "{notes}");

    let (code, text, stderr) = eval(&["--dataset", &dir, "--llm", "on"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("\naccuracy        rules          with the LLM\n"), "{text}");
    assert!(text.contains("  memory_min    0/1 0%         1/1 100%\n"), "{text}");
    assert!(text.contains("  ports         1/1 100%       1/1 100%\n"), "{text}");
    assert!(text.contains("the LLM's changes lower no figure"), "{text}");
}
