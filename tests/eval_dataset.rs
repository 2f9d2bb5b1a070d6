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
    assert_eq!(on["prompts"]["refine"], "1");
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
    let terse = shipped.replace("version: 1", "version: 2-terse");
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
        stderr.contains("its front matter says refine version 1, not refine version 3"),
        "{stderr}"
    );
}
