//! Rendered job files for each kind of service, built from saved analyses in
//! `tests/data/generate/` with no answers and no conventions (what `--no-questions` writes).
//!
//! Snapshots are files under `tests/snapshots/`; after a change to the layout (the formatter),
//! regenerate them with `INSTA_UPDATE=always cargo test --test generate_kinds` and review.

use std::path::Path;

use nomad_spec::analyze::Analysis;
use nomad_spec::cli::generate::explain;
use nomad_spec::jobspec::answers::Answers;
use nomad_spec::jobspec::build::build;
use nomad_spec::jobspec::build::render_files;
use nomad_spec::jobspec::config::Config;

fn fixture(name: &str) -> Analysis {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/generate").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file of a generation, separated by their paths, then the decisions.
fn generate(name: &str) -> (String, String) {
    let analysis = fixture(&format!("{name}.json"));
    let generated = build(&analysis, &Answers::default(), &Config::default(), name).unwrap();
    let files = render_files(&generated, &Config::default(), "shop").unwrap();
    let text = files
        .iter()
        .map(|file| format!("=== {}\n{}", file.path, file.text))
        .collect::<Vec<_>>()
        .join("\n");
    (text, explain(&generated))
}

macro_rules! kind {
    ($test:ident, $fixture:literal) => {
        #[test]
        fn $test() {
            let (files, decisions) = generate($fixture);
            insta::assert_snapshot!(concat!("kind_", $fixture), files);
            insta::assert_snapshot!(concat!("kind_", $fixture, "_decisions"), decisions);
        }
    };
}

kind!(web_app_with_http_check, "web-http-check");
kind!(grpc_service, "grpc-service");
kind!(worker_without_port, "worker");
kind!(static_nginx, "static-nginx");
kind!(app_with_secrets, "app-secrets");
kind!(app_with_database_dependency, "app-database");
kind!(app_with_persistent_volume, "app-volume");

#[test]
fn no_questions_output_is_deterministic() {
    for name in ["app-database", "app-secrets", "grpc-service"] {
        let first = generate(name);
        for _ in 0..3 {
            assert_eq!(generate(name), first, "{name}");
        }
    }
}

#[test]
fn deploying_backing_services_gives_them_their_own_jobs() {
    let analysis = fixture("app-database.json");
    let mut answers = Answers::default();
    answers.set("deploy.db=true").unwrap();
    answers.set("image.web=ghcr.io/acme/shop-web:1.4.2").unwrap();
    answers.set("secret.POSTGRES_PASSWORD=kv/data/shop/db#password").unwrap();
    answers.set("secret.DB_PASSWORD=kv/data/shop/db#password").unwrap();
    answers.set("endpoint.redis=redis.internal:6379").unwrap();
    answers.set("static_port.web=80").unwrap();
    answers.set("count.web=2").unwrap();
    let generated = build(&analysis, &answers, &Config::default(), "shop").unwrap();
    let files = render_files(&generated, &Config::default(), "shop").unwrap();
    let text: Vec<String> = files.iter().map(|f| format!("=== {}\n{}", f.path, f.text)).collect();
    insta::assert_snapshot!("kind_app-database_answered", text.join("\n"));
    let keys: Vec<&str> = generated.unanswered.iter().map(|q| q.key.as_str()).collect();
    assert!(!keys.contains(&"image.web") && !keys.contains(&"deploy.db"), "{keys:?}");
}
