//! Optional: the LLM advisor against a real OpenAI-compatible server.
//!
//! Skipped (with a message) unless `NOMAD_SPEC_TEST_LLM_URL` holds the server's base URL,
//! e.g. `http://127.0.0.1:8080/v1`. `NOMAD_SPEC_TEST_LLM_MODEL` names the model when the
//! server needs one (vLLM does; llama.cpp's server does not).
//!
//! A small local setup with llama.cpp's `llama-server` and Qwen2.5-0.5B-Instruct (about
//! 400 MB in Q4; the server downloads it from Hugging Face with `-hf`), which follows the
//! JSON schema the tasks send through llama.cpp's grammar-constrained decoding:
//!
//! ```sh
//! llama-server -hf Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M --host 127.0.0.1 --port 8080 \
//!     --ctx-size 8192
//! NOMAD_SPEC_TEST_LLM_URL=http://127.0.0.1:8080/v1 \
//!     cargo test --test llm_real_server -- --nocapture
//! ```
//!
//! vLLM works the same (`vllm serve Qwen/Qwen2.5-0.5B-Instruct`, guided decoding by
//! default; set `NOMAD_SPEC_TEST_LLM_MODEL` to the model's name). The test runs the `answers`
//! task on replies that each say one thing plainly and the `refine` task on the generated
//! job, prints the acceptance rate of each (answers the guardrails took, of answers given),
//! and asserts real outcomes: the plainest reply is read into the assignment it states, and
//! most replies are accepted. With the schemas enumerating what the guardrails accept, a
//! rejected answer can only come from a value out of bounds.

use std::collections::BTreeMap;
use std::path::Path;

use nomad_spec::analyze::{analyze, Analysis, Options};
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::llm::tasks;
use nomad_spec::llm::Client;
use nomad_spec::settings::LlmSettings as Settings;

/// The client for the server `NOMAD_SPEC_TEST_LLM_URL` names, the analysis of a two-service
/// fixture and a runtime; `None` (the test is skipped, and says so) when it is unset.
fn real_server() -> Option<(Client, Analysis, tokio::runtime::Runtime)> {
    let Ok(url) = std::env::var("NOMAD_SPEC_TEST_LLM_URL") else {
        eprintln!("skipped: set NOMAD_SPEC_TEST_LLM_URL to a server's base URL to run it");
        return None;
    };
    let mut env = BTreeMap::from([("NOMAD_SPEC_LLM_BASE_URL".to_string(), url)]);
    if let Ok(model) = std::env::var("NOMAD_SPEC_TEST_LLM_MODEL") {
        env.insert("NOMAD_SPEC_LLM_MODEL".into(), model);
    }
    env.insert("NOMAD_SPEC_LLM_TIMEOUT".into(), "120".into());
    let settings = match Settings::from_vars(&env) {
        Ok(Some(settings)) => settings,
        other => panic!("bad settings: {other:?}"),
    };
    let client = Client::new(settings).unwrap_or_else(|e| panic!("{e:#}"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos/flask-postgres");
    let analysis = analyze(&root, &Options::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    Some((client, analysis, runtime))
}

/// Replies that each state one assignment plainly, with the assignment they state.
const REPLIES: [(&str, &str); 4] = [
    ("use the image ghcr.io/acme/api:1.4 for the api service", "image.api=ghcr.io/acme/api:1.4"),
    ("give the api service 512 MB of memory", "memory.api=512"),
    ("run 3 instances of the api service", "count.api=3"),
    ("the api should be public at api.example.com", "hostname.api=api.example.com"),
];

#[test]
fn a_real_server_reads_plain_replies_and_its_answers_pass_the_guardrails() {
    let Some((client, analysis, runtime)) = real_server() else { return };
    let mut accepted = 0;
    let mut stated = 0;
    for (reply, expected) in REPLIES {
        let advice = runtime.block_on(tasks::answers(
            Some(&client),
            &analysis,
            &[],
            reply,
            &Answers::default(),
        ));
        eprintln!(
            "answers {reply:?}: {:?} {:?}",
            advice.value.as_ref().map(|p| &p.applied),
            advice.notes
        );
        if let Some(patch) = &advice.value {
            accepted += 1;
            stated += usize::from(patch.applied.iter().any(|a| a == expected));
        }
    }
    eprintln!("answers: {accepted}/{} accepted, {stated} read as stated", REPLIES.len());
    let generated = nomad_spec::jobspec::build::build(
        &analysis,
        &Answers::default(),
        &nomad_spec::jobspec::config::Config::default(),
        "flask-postgres",
    )
    .unwrap_or_else(|e| panic!("build: {e}"));
    let mut refined = 0;
    for job in &generated.jobs {
        let advice = runtime.block_on(tasks::refine(Some(&client), &analysis, &job.spec, &[]));
        eprintln!(
            "refine {}: {:?} {:?}",
            job.path,
            advice.value.as_ref().map(|p| &p.applied),
            advice.notes
        );
        refined += usize::from(
            advice.value.is_some() || advice.notes.iter().any(|n| n == "LLM proposed no change"),
        );
    }
    eprintln!("refine: {refined}/{} accepted", generated.jobs.len());
    assert!(stated >= 1, "no plain reply was read as it was stated");
    assert!(accepted * 2 > REPLIES.len(), "fewer than half the answers passed the guardrails");
    assert!(refined * 2 >= generated.jobs.len(), "most refinements were rejected");
}

#[test]
fn a_real_server_answers_or_the_rules_stand() {
    let Some((client, analysis, runtime)) = real_server() else { return };
    let answers = runtime.block_on(tasks::answers(
        Some(&client),
        &analysis,
        &[],
        "use the api image ghcr.io/acme/api:1.4 and 512 megs of memory",
        &Answers::default(),
    ));
    eprintln!("answers: {:?} {:?}", answers.value.as_ref().map(|p| &p.applied), answers.notes);
    assert!(answers.value.is_some() || !answers.notes.is_empty());
    let explained =
        runtime.block_on(tasks::explain(Some(&client), "shop.nomad.hcl", "job \"shop\" {}"));
    eprintln!("explain: {:?} {:?}", explained.value, explained.notes);
    assert!(explained.value.is_some() || !explained.notes.is_empty());
    let calls = client.calls();
    eprintln!("calls: {calls:?}");
    assert!(!calls.is_empty(), "no call was made");
}
