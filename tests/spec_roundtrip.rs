//! The job spec engine's parts agree with each other, on real files.
//!
//! - `fmt` never changes what a job means: `parse` gives the same JSON before and after, for
//!   every corpus job file that parses (issue #3).
//! - What `generate` writes always passes `validate` and `fmt --check`, for every fixture
//!   repository and every compose app of the corpus (issue #3).
//! - What `render` writes parses back into the very `JobSpec` it was rendered from.

mod common;

use std::path::Path;

use nomad_spec::cli::generate::generate_text;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::config::Config;
use nomad_spec::jobspec::format::format_hcl;
use nomad_spec::jobspec::parse::{parse_job, parse_job_spec, ParseOptions};
use nomad_spec::jobspec::validate::{is_valid, validate_source};

#[test]
fn formatting_never_changes_what_a_corpus_job_means() {
    let Some(corpus) = common::corpus_dir() else { return };
    let files = common::corpus_job_files(&corpus);
    assert!(files.len() > 300, "expected the whole corpus, found {} files", files.len());
    let mut compared = 0;
    let mut problems = Vec::new();
    for path in &files {
        let name = path.display().to_string();
        let Ok(source) = std::fs::read_to_string(path) else { continue };
        // `file()` reads relative to the job's folder, so the formatted text is parsed under
        // the same name.
        // Two parses of a job that calls a clock or a random function differ by design.
        if ["uuidv4(", "uuidv5(", "timestamp("].iter().any(|f| source.contains(f)) {
            continue;
        }
        let Ok(before) = parse_job(&source, &name, &ParseOptions::default()) else { continue };
        let formatted = match format_hcl(&source, &name) {
            Ok(text) => text,
            Err(diag) => {
                problems.push(format!("{name}: parses but does not format: {diag}"));
                continue;
            }
        };
        match parse_job(&formatted, &name, &ParseOptions::default()) {
            Ok(after) if after == before => compared += 1,
            Ok(_) => problems.push(format!("{name}: formatting changed the parsed job")),
            Err(diags) => problems.push(format!("{name}: no longer parses: {}", diags[0])),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared > 250, "only {compared} corpus files parsed; the comparison proves little");
}

/// Generates with defaults only and checks every file it would write.
fn generated_files_are_valid_and_formatted(root: &Path) -> Result<usize, String> {
    let (_, files) = generate_text(root, &Answers::default(), &Config::default())
        .map_err(|err| format!("{}: generate failed: {err:#}", root.display()))?;
    let mut problems = Vec::new();
    for file in &files {
        let name = format!("{}/{}", root.display(), file.path);
        let diagnostics = validate_source(&file.text, &name);
        if !is_valid(&diagnostics) {
            let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            problems.push(format!("{name} is invalid:\n{}\n{}", shown.join("\n"), file.text));
        }
        match format_hcl(&file.text, &name) {
            Ok(formatted) if formatted == file.text => {}
            Ok(_) => problems.push(format!("{name} is not in canonical layout")),
            Err(diag) => problems.push(format!("{name} does not format: {diag}")),
        }
        if let Err(diags) = parse_job_spec(&file.text, &name, &ParseOptions::default()) {
            problems.push(format!("{name} does not parse: {}", diags[0]));
        }
    }
    if problems.is_empty() {
        Ok(files.len())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn generate_writes_valid_canonical_files_for_every_compose_app() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = corpus.join("compose-apps");
    let apps = common::subfolders(&dir);
    assert!(apps.len() >= 20, "expected the corpus apps, found {}", apps.len());
    let mut written = 0;
    let mut problems = Vec::new();
    for app in &apps {
        match generated_files_are_valid_and_formatted(app) {
            Ok(n) => written += n,
            Err(problem) => problems.push(problem),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(written >= apps.len(), "only {written} files for {} apps", apps.len());
}

#[test]
fn generate_writes_valid_canonical_files_for_every_fixture_repository() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/repos");
    let repos = common::subfolders(&dir);
    assert!(repos.len() >= 9, "expected the fixture repositories, found {}", repos.len());
    let mut problems = Vec::new();
    for repo in &repos {
        match generated_files_are_valid_and_formatted(repo) {
            Ok(0) => problems.push(format!("{}: no job file generated", repo.display())),
            Ok(_) => {}
            Err(problem) => problems.push(problem),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn rendered_jobs_parse_back_into_the_same_spec() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = corpus.join("compose-apps");
    let mut checked = 0;
    for app in common::subfolders(&dir) {
        let Ok((generated, files)) = generate_text(&app, &Answers::default(), &Config::default())
        else {
            continue;
        };
        for (job, file) in generated.jobs.iter().zip(&files) {
            let parsed = parse_job_spec(&file.text, &file.path, &ParseOptions::default())
                .unwrap_or_else(|d| panic!("{}: {}", file.path, d[0]));
            let mut want = job.spec.clone();
            with_nomad_template_defaults(&mut want);
            let want = serde_json::to_value(&want).expect("a job serializes");
            let got = serde_json::to_value(&parsed).expect("a job serializes");
            assert_eq!(got, want, "{}/{} does not mean its JobSpec", app.display(), file.path);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// Nomad's parser fills in a template's `perms` and `splay`, and a vault block's `change_mode`
/// and `env`, when the file leaves them out.
fn with_nomad_template_defaults(job: &mut nomad_spec::jobspec::JobSpec) {
    for group in job.groups_mut() {
        for task in &mut group.tasks {
            if let Some(vault) = task.vault.as_mut() {
                vault.change_mode.get_or_insert_with(|| "restart".to_string());
                vault.env.get_or_insert(true);
            }
            for template in task.templates.iter_mut().flatten() {
                template.perms.get_or_insert_with(|| "0644".to_string());
                template.splay.get_or_insert(5 * nomad_spec::jobspec::SECOND);
            }
        }
    }
}
