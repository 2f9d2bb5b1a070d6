//! "PR opened → healthy, human replies needed" over the sample apps of the shared corpus
//! (issue 17): for each app of `datasets/apps`, the questions a pull request's status comment
//! would leave needing an answer with no reply at all, without the image pipeline and with it
//! (as the bot proposes it on GitHub), and whether every service the app deploys is built from
//! the repository or runs a published image.
//!
//! A count, not a timing: `cargo bench --bench replies`. Each app is analyzed as the bot
//! analyzes a checkout, the pipeline proposed as `workflow::images::propose` does on a pull
//! request, and the job built with no answer; a question "needs a reply" when its default is a
//! guess that will probably not work (`needs_answer`). Exits 1 when an app whose services are
//! all built or published still needs any reply with the pipeline, which is what issue 17 rules
//! out: each such reply is named. Figures are written down in `bench/README.md`.

mod common;

use std::path::Path;

use nomad_spec::analyze::{self, Source};
use nomad_spec::cli::whole_app::{app_files, find_corpus, read_app_file};
use nomad_spec::event::Repository;
use nomad_spec::forge::ForgeKind;
use nomad_spec::jobspec::answers::{Answers, Question};
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::config::Config;
use nomad_spec::workflow::images;

/// The questions of a build of `analysis` with no answer that need one.
fn needing_reply(analysis: &analyze::Analysis, config: &Config, name: &str) -> Vec<Question> {
    match build(analysis, &Answers::default(), config, name) {
        Ok(generated) => generated.unanswered.into_iter().filter(|q| q.needs_answer).collect(),
        Err(err) => vec![Question {
            key: "(no job)".into(),
            prompt: err.to_string(),
            default: String::new(),
            reason: String::new(),
            needs_answer: true,
        }],
    }
}

fn main() {
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/apps");
    let apps = app_files(&dataset).and_then(|files| {
        let corpus = find_corpus(None, &dataset)?;
        files
            .iter()
            .map(|path| Ok(corpus.join("apps").join(read_app_file(path)?.app)))
            .collect::<anyhow::Result<Vec<_>>>()
    });
    let apps = match apps {
        Ok(apps) => apps,
        Err(err) => {
            eprintln!("cannot find the apps to measure: {err:#}");
            std::process::exit(2);
        }
    };
    let config = Config::default();
    let mut broken = Vec::new();
    println!(
        "| app | services | all built or published | replies without the pipeline (about \
         images) | replies with it (about images) |"
    );
    println!("|---|---|---|---|---|");
    let about_images =
        |questions: &[Question]| questions.iter().filter(|q| q.key.starts_with("image.")).count();
    let (mut total_before, mut total_after) = (0, 0);
    for root in &apps {
        let name = root.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let options = analyze::Options { root_name: Some(name.clone()), ..Default::default() };
        let mut analysis = analyze::analyze(root, &options);
        let before = needing_reply(&analysis, &config, &name);
        let all_built_or_published = analysis.services.iter().all(|s| match s.source {
            Source::Build => s.dockerfile.is_some(),
            Source::Image => s.image.is_some(),
        });
        let repository =
            Repository { full_name: format!("acme/{name}"), default_branch: "main".into() };
        let registry = images::registry_path(
            ForgeKind::GitHub,
            &repository,
            &nomad_spec::settings::Settings::default(),
        );
        images::propose(ForgeKind::GitHub, registry, "main", &mut analysis, &config, root);
        let after = needing_reply(&analysis, &config, &name);
        let keys: Vec<&str> = after.iter().map(|q| q.key.as_str()).collect();
        println!(
            "| {name} | {} | {} | {} ({}) | {} ({}){} |",
            analysis.services.len(),
            if all_built_or_published { "yes" } else { "no" },
            before.len(),
            about_images(&before),
            after.len(),
            about_images(&after),
            if keys.is_empty() { String::new() } else { format!(": {}", keys.join(", ")) }
        );
        total_before += before.len();
        total_after += after.len();
        if all_built_or_published && !after.is_empty() {
            broken.push(format!("{name} ({})", keys.join(", ")));
        }
    }
    println!(
        "\nreplies over {} apps: {total_before} without the pipeline, {total_after} with it",
        apps.len()
    );
    if !broken.is_empty() {
        eprintln!(
            "apps whose services are all built or published that still need a reply: {}",
            broken.join(", ")
        );
        std::process::exit(1);
    }
}
