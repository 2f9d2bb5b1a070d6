//! Every job file in the corpus (`../shared/corpus/nomad-jobs/`) parses into Nomad's API JSON
//! that fits `JobSpec`, or fails for the reason listed in `EXPECTED_FAILURES`. A file that
//! fails otherwise, or an expected failure that starts passing, fails the test.

mod common;

use nomad_spec::jobspec::parse::{parse_job, parse_job_spec, ParseOptions};

/// Files that must fail, by path under `nomad-jobs/`, and a piece of the reason they fail.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    // `file("...")` reads a file of the original repository that the corpus does not hold;
    // Nomad fails the same way. (kadalu reads ~/.ssh/id_rsa of the machine.)
    ("brucellino+nomad-jobs/bdii/bdii.hcl", FILE_MISSING),
    ("brucellino+nomad-jobs/grafana-agent/grafana-agent.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/grafana-agent/grafana-integrations.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/jenkins/jenkins.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/loki/loki.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/loki.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/observability-plane/grafana.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/observability-plane/mimir.nomad.hcl", FILE_MISSING),
    ("brucellino+nomad-jobs/observability-plane/monitoring.nomad", FILE_MISSING),
    ("brucellino+nomad-jobs/observability-plane/promtail.nomad", FILE_MISSING),
    ("hashicorp+nomad/demo/csi/kadalu-csi/controller.nomad", FILE_MISSING),
    // `template { wait = { ... } }`: `wait` is a block in Nomad's schema, so Nomad rejects
    // the argument form ("Unsupported argument") as well.
    (
        "brucellino+nomad-jobs/observability-plane/loki.nomad.hcl",
        "\"wait\" is a block, not an argument",
    ),
    // Uses `var.postgres_user`, which it never declares (and needs -var for others).
    (
        "brucellino+nomad-jobs/mailman/mailman.nomad.hcl",
        "there is no variable named \"postgres_user\"",
    ),
    // Variables without a default need `-var`; `required_variables_parse_when_given` shows
    // each of these parses once they are set.
    ("brucellino+nomad-jobs/minio.nomad", NEEDS_VAR),
    ("brucellino+nomad-jobs/qa-api.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/cni/input/config_format.nomad.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/consul/input/service_reversion.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/docker/input/docker_config.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/docker_registry/registry-auths.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/e2eutil/input/disconnect-node.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/e2eutil/input/restart-node.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/jobsubmissions/input/xyz.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/pledge/input/curl.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/secret/input/custom_secret.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/secret/input/nomad_secret.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/secret/input/vault_secret.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/servicediscovery/input/checks_task_restart_helper.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/servicediscovery/input/checks_task_restart_main.nomad", NEEDS_VAR),
    ("hashicorp+nomad/e2e/task_schedule/input/schedule.nomad.hcl", NEEDS_VAR),
    ("hashicorp+nomad/e2e/workload_id/input/node-meta.nomad.hcl", NEEDS_VAR),
];

const FILE_MISSING: &str = "in call to file(): cannot read";
const NEEDS_VAR: &str = "is required but has no value";

#[test]
fn every_corpus_job_parses_or_fails_for_its_listed_reason() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("nomad-jobs");
    let files = common::corpus_job_files(&corpus);
    assert!(files.len() > 300, "the corpus at {} holds {} job files", root.display(), files.len());
    let mut wrong = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap_or(path).display().to_string();
        let source = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) => panic!("cannot read {name}: {err}"),
        };
        let expected =
            EXPECTED_FAILURES.iter().find(|(file, _)| *file == name).map(|(_, why)| *why);
        let outcome =
            parse_job_spec(&source, &path.display().to_string(), &ParseOptions::default());
        match (outcome, expected) {
            (Ok(_), None) => {}
            (Ok(_), Some(why)) => {
                wrong.push(format!("{name}: parses now, but is listed as failing with {why:?}"))
            }
            (Err(diags), Some(why)) if diags.iter().any(|d| d.message.contains(why)) => {}
            (Err(diags), _) => {
                let messages: Vec<String> = diags
                    .iter()
                    .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                    .collect();
                wrong.push(format!("{name}: {}", messages.join(" | ")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} files did not parse as expected:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn parsed_corpus_jobs_keep_runtime_interpolations() {
    let Some(corpus) = common::corpus_dir() else { return };
    let path = corpus.join("nomad-jobs");
    let mut checked = 0;
    for file in common::corpus_job_files(&corpus) {
        let Ok(source) = std::fs::read_to_string(&file) else { continue };
        if !source.contains("${NOMAD_") {
            continue;
        }
        let Ok(job) = parse_job(&source, &file.display().to_string(), &ParseOptions::default())
        else {
            continue;
        };
        let json = job.to_string();
        assert!(
            json.contains("${NOMAD_"),
            "{} lost its runtime interpolations",
            file.strip_prefix(&path).unwrap_or(&file).display()
        );
        checked += 1;
    }
    assert!(checked > 10, "only {checked} corpus files with ${{NOMAD_...}} parsed");
}

#[test]
fn required_variables_parse_when_given() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("nomad-jobs");
    for (name, why) in EXPECTED_FAILURES.iter().filter(|(_, why)| *why == NEEDS_VAR) {
        let path = root.join(name);
        let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let file = path.display().to_string();
        let Err(diags) = parse_job(&source, &file, &ParseOptions::default()) else {
            panic!("{name} parses without variables but is listed as failing with {why:?}");
        };
        // "1" converts to strings and numbers; a bool variable says so and gets "true".
        let mut vars: Vec<(String, String)> = diags
            .iter()
            .filter_map(|d| d.message.strip_prefix("variable \""))
            .filter_map(|rest| rest.split_once('"'))
            .map(|(var, _)| (var.to_owned(), "1".to_owned()))
            .collect();
        let mut outcome = parse_job_spec(
            &source,
            &file,
            &ParseOptions { vars: vars.clone(), var_files: Vec::new() },
        );
        if let Err(diags) = &outcome {
            for d in diags.iter().filter(|d| d.message.contains("a bool is required")) {
                for (var, value) in vars.iter_mut() {
                    if d.message.starts_with(&format!("invalid value for variable \"{var}\"")) {
                        *value = "true".to_owned();
                    }
                }
            }
            outcome = parse_job_spec(&source, &file, &ParseOptions { vars, var_files: Vec::new() });
        }
        if let Err(diags) = outcome {
            panic!("{name} does not parse with its variables set: {diags:?}");
        }
    }
}
