//! The guardrails on real job files (the shared corpus): what would be sent to the LLM about
//! any of them never holds the value of a secret-looking environment variable, and the fence
//! around the file's text is never closed early.

mod common;

use nomad_spec::analyze::source::looks_secret;
use nomad_spec::jobspec::parse::{parse_job_spec, ParseOptions};
use nomad_spec::llm::guard::{redact_spec, redact_text, secret_values, untrusted};

#[test]
fn no_secret_value_of_a_corpus_job_reaches_the_prompt() {
    let Some(corpus) = common::corpus_dir() else { return };
    let mut jobs = 0;
    let mut secrets = 0;
    for path in common::corpus_job_files(&corpus) {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let file = path.display().to_string();
        let Ok(spec) = parse_job_spec(&text, &file, &ParseOptions::default()) else { continue };
        jobs += 1;
        let known = secret_values(&spec);
        let sent_text = untrusted(&file, &redact_text(&text, &known));
        let sent_spec = redact_spec(&spec).to_string();
        assert_eq!(sent_text.matches("</untrusted>").count(), 1, "{file}");
        // The job without any environment: a value found there too is not the env's to leak
        // (`temp` as a password and as a folder name).
        let mut bare = spec.clone();
        for task in bare.groups_mut().iter_mut().flat_map(|g| g.tasks.iter_mut()) {
            task.env = None;
        }
        let bare = serde_json::to_string(&bare).unwrap_or_default();
        for task in spec.groups().iter().flat_map(|g| &g.tasks) {
            for (name, value) in task.env.iter().flatten() {
                // Short values ("1", "true") are not worth hiding and would blank out the text.
                if value.chars().count() < 4 {
                    continue;
                }
                if !bare.contains(value.as_str()) {
                    assert!(!sent_spec.contains(value.as_str()), "{file}: env {name} in the spec");
                }
                if looks_secret(name) {
                    secrets += 1;
                    assert!(!sent_text.contains(value.as_str()), "{file}: secret {name} sent");
                }
            }
        }
    }
    assert!(jobs > 20, "only {jobs} corpus jobs parsed");
    eprintln!("{jobs} corpus jobs checked, {secrets} secret-looking values redacted");
}
