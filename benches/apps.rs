//! Whole-app generation of the 24 sample apps of the shared corpus (issue 12): for each app
//! file of `datasets/apps`, what `nomad-spec eval` and `tests/deployability.rs` run before
//! judging (analysis of the app folder, answers, build, render, validate, parse back; see
//! `nomad_spec::cli::whole_app::generate_whole_app`).
//!
//! A plain `Instant` loop, no harness: `cargo bench --bench apps`. One warm-up pass (the file
//! cache), then `PASSES` timed passes over all apps; prints the median pass, and each app's
//! median, slowest first. The corpus is found as `eval` finds it (`NOMAD_SPEC_CORPUS`, else
//! `../shared/corpus`). Figures are written down in `bench/README.md`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use nomad_spec::cli::whole_app::{app_files, find_corpus, generate_whole_app, read_app_file};

/// Timed passes over every app.
const PASSES: usize = 5;

fn main() {
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/apps");
    let prepared = app_files(&dataset).and_then(|files| {
        let corpus = find_corpus(None, &dataset)?;
        files
            .iter()
            .map(|path| {
                let file = read_app_file(path)?;
                Ok((corpus.join("apps").join(&file.app), file))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    });
    let apps = match prepared {
        Ok(apps) => apps,
        Err(err) => {
            eprintln!("cannot prepare the apps to measure: {err:#}");
            std::process::exit(2);
        }
    };
    let mut per_app: Vec<Vec<Duration>> = vec![Vec::new(); apps.len()];
    let mut passes = Vec::new();
    let mut jobs = 0;
    for pass in 0..=PASSES {
        let start = Instant::now();
        jobs = 0;
        for (index, (root, file)) in apps.iter().enumerate() {
            let app_start = Instant::now();
            match generate_whole_app(root, &file.answers) {
                Ok(generation) => jobs += std::hint::black_box(generation).jobs,
                Err(err) => {
                    eprintln!("{}: {err:#}", file.app);
                    std::process::exit(1);
                }
            }
            if pass > 0 {
                per_app[index].push(app_start.elapsed());
            }
        }
        if pass > 0 {
            passes.push(start.elapsed());
        }
    }
    println!(
        "whole-app generation of {} apps ({jobs} jobs): median {:.0} ms per pass over {PASSES} \
         passes (after one warm-up)",
        apps.len(),
        common::median(passes).as_secs_f64() * 1e3
    );
    let mut medians: Vec<(Duration, &str)> = per_app
        .into_iter()
        .zip(&apps)
        .map(|(samples, (_, file))| (common::median(samples), file.app.as_str()))
        .collect();
    medians.sort_by_key(|m| std::cmp::Reverse(m.0));
    for (median, app) in medians {
        println!("  {app:<45} median {:.1} ms", median.as_secs_f64() * 1e3);
    }
}
