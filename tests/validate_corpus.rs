//! `validate_source` over every corpus job file (`../shared/corpus/nomad-jobs/`): no panic,
//! and the files with errors are exactly those listed in `EXPECTED_ERRORS`, each for the
//! listed reason. These are published jobs, so every entry was checked by hand against
//! Nomad's own validation; a new error elsewhere is a false positive until shown otherwise.

mod common;

use nomad_spec::jobspec::validate::validate_source;
use nomad_spec::jobspec::Severity;

const FILE_MISSING: &str = "in call to file(): cannot read";

/// Files with errors, by path under `nomad-jobs/`, and a piece of each error they have.
const EXPECTED_ERRORS: &[(&str, &[&str])] = &[
    // `file()` reads files of the original repository that the corpus does not hold.
    ("brucellino+nomad-jobs/bdii/bdii.hcl", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/grafana-agent/grafana-agent.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/grafana-agent/grafana-integrations.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/jenkins/jenkins.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/loki/loki.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/loki.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/observability-plane/grafana.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/observability-plane/mimir.nomad.hcl", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/observability-plane/monitoring.nomad", &[FILE_MISSING]),
    ("brucellino+nomad-jobs/observability-plane/promtail.nomad", &[FILE_MISSING]),
    ("hashicorp+nomad/demo/csi/kadalu-csi/controller.nomad", &[FILE_MISSING]),
    // `task "install"` has a lifecycle block and nothing else: Nomad says "Missing task
    // driver".
    ("brucellino+nomad-jobs/hubot.nomad", &["task \"install\" has no driver"]),
    // Uses `var.postgres_user` without declaring it.
    (
        "brucellino+nomad-jobs/mailman/mailman.nomad.hcl",
        &["there is no variable named \"postgres_user\""],
    ),
    // `template { wait = { ... } }`: `wait` is a block in Nomad's schema.
    (
        "brucellino+nomad-jobs/observability-plane/loki.nomad.hcl",
        &["\"wait\" is a block, not an argument"],
    ),
    // A per_alloc CSI volume in a job whose update block asks for a canary: Nomad rejects
    // it ("volume cannot be per_alloc when canaries are in use").
    (
        "brucellino+nomad-jobs/cache.nomad",
        &["a volume cannot be per_alloc when the update uses canaries"],
    ),
    // Nomad's e2e tests of scaling policies that reject a count outside min..max.
    (
        "hashicorp+nomad/e2e/scaling/input/namespace_default_2.nomad.hcl",
        &["count 4 is outside the scaling range 2 to 3"],
    ),
    (
        "hashicorp+nomad/e2e/scaling/input/namespace_default_3.nomad.hcl",
        &["count 4 is outside the scaling range 5 to 6"],
    ),
];

#[test]
fn corpus_jobs_validate_except_the_listed_real_errors() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("nomad-jobs");
    let files = common::corpus_job_files(&corpus);
    assert!(files.len() > 300, "the corpus at {} holds {} job files", root.display(), files.len());
    let mut wrong = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
        let source = String::from_utf8_lossy(&bytes);
        let diagnostics = validate_source(&source, &path.display().to_string());
        let errors: Vec<&str> = diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message.as_str())
            .collect();
        let expected = EXPECTED_ERRORS.iter().find(|(file, _)| *file == name).map(|(_, e)| *e);
        match expected {
            None if errors.is_empty() => {}
            None => wrong.push(format!("{name}: unexpected errors: {errors:?}")),
            Some(reasons) => {
                for error in &errors {
                    if !reasons.iter().any(|r| error.contains(r)) {
                        wrong.push(format!("{name}: unexpected error: {error}"));
                    }
                }
                for reason in reasons.iter() {
                    if !errors.iter().any(|e| e.contains(reason)) {
                        wrong.push(format!("{name}: no longer reports {reason:?}"));
                    }
                }
            }
        }
        for d in &diagnostics {
            let positioned = d.line > 0 || d.message.contains("no job block");
            if d.severity == Severity::Error && !positioned {
                wrong.push(format!("{name}: an error without a line: {}", d.message));
            }
        }
    }
    assert!(wrong.is_empty(), "{} unexpected outcomes:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn variables_without_defaults_warn_instead_of_failing_validation() {
    let Some(corpus) = common::corpus_dir() else { return };
    let path = corpus.join("nomad-jobs/hashicorp+nomad/e2e/pledge/input/curl.hcl");
    let source =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let diagnostics = validate_source(&source, "curl.hcl");
    assert!(diagnostics.iter().all(|d| d.severity == Severity::Warning), "{diagnostics:#?}");
    assert!(
        diagnostics.iter().any(|d| d.message.contains("variable \"address\" has no default")),
        "{diagnostics:#?}"
    );
}
