//! The Dockerfile parser on every real Dockerfile of the shared corpus: no file gives a note,
//! and the stages, base images, ports and commands are the ones written there.

mod common;

use std::path::{Path, PathBuf};

use nomad_spec::analyze::dockerfile::{self, Command, Healthcheck};

fn dockerfiles(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            dockerfiles(&path, found);
        } else if path.file_name().is_some_and(|n| n == "Dockerfile") {
            found.push(path);
        }
    }
}

fn parse(corpus: &Path, rel: &str, args: &[(&str, &str)]) -> dockerfile::Dockerfile {
    let path = corpus.join("compose-apps").join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let args: Vec<(String, String)> =
        args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let mut notes = Vec::new();
    let file = dockerfile::parse(rel, &text, &args, &mut notes);
    assert!(notes.is_empty(), "{rel}: {notes:?}");
    file
}

#[test]
fn every_corpus_dockerfile_parses_without_notes() {
    let Some(corpus) = common::corpus_dir() else { return };
    let root = corpus.join("compose-apps");
    let mut found = Vec::new();
    dockerfiles(&root, &mut found);
    assert!(found.len() >= 19, "only {} Dockerfiles found under {}", found.len(), root.display());
    for path in found {
        let rel = path.strip_prefix(&root).unwrap_or(&path).to_string_lossy().into_owned();
        let file = parse(&corpus, &rel, &[]);
        assert!(!file.stages.is_empty(), "{rel}: no stage");
        for stage in &file.stages {
            assert!(!stage.from.value.is_empty() && stage.from.line > 0, "{rel}: {stage:?}");
        }
    }
}

/// File, stage names in order, final base image, final stage's EXPOSE ports.
type StageCase = (&'static str, &'static [Option<&'static str>], &'static str, &'static [u16]);

#[test]
fn stages_and_facts_as_written() {
    let Some(corpus) = common::corpus_dir() else { return };
    let cases: [StageCase; 6] = [
        (
            "angular/angular/Dockerfile",
            &[Some("builder"), Some("dev-envs")],
            "node:17.0.1-bullseye-slim",
            &[],
        ),
        (
            "sparkjava-mysql/backend/Dockerfile",
            &[Some("build"), Some("dev-envs"), None],
            "eclipse-temurin:17-jre-focal",
            &[8080],
        ),
        (
            "react-rust-postgres/backend/Dockerfile",
            &[Some("base"), Some("development"), Some("dev-envs"), Some("builder"), None],
            "debian:buster-slim",
            &[8000],
        ),
        (
            "nginx-golang/backend/Dockerfile",
            &[Some("builder"), Some("dev-envs"), None],
            "scratch",
            &[],
        ),
        (
            "wasmedge-mysql-nginx/backend/Dockerfile",
            &[Some("buildbase"), Some("build"), None],
            "scratch",
            &[],
        ),
        (
            "react-express-mysql/backend/Dockerfile",
            &[Some("development"), Some("dev-envs")],
            "node:lts",
            &[80, 9229, 9230],
        ),
    ];
    for (rel, stages, base, ports) in cases {
        let file = parse(&corpus, rel, &[]);
        let names: Vec<Option<&str>> = file.stages.iter().map(|s| s.name.as_deref()).collect();
        assert_eq!(names, stages, "{rel}");
        let config = file.config(None, &mut Vec::new()).unwrap_or_default();
        assert_eq!(config.base_image.map(|b| b.value), Some(base.to_string()), "{rel}");
        let exposed: Vec<u16> = config.expose.iter().map(|p| p.value.port).collect();
        assert_eq!(exposed, ports, "{rel}");
    }
}

#[test]
fn arg_expose_healthcheck_and_commands_of_the_express_backend() {
    let Some(corpus) = common::corpus_dir() else { return };
    let file = parse(&corpus, "react-express-mysql/backend/Dockerfile", &[("PORT", "8080")]);
    let mut notes = Vec::new();
    let config = file.config(Some("development"), &mut notes).unwrap_or_default();
    let exposed: Vec<(u16, u32)> = config.expose.iter().map(|p| (p.value.port, p.line)).collect();
    assert_eq!(exposed, [(8080, 16), (9229, 16), (9230, 16)], "ARG PORT overridden by a build arg");
    let env: Vec<(&str, &str)> =
        config.env.iter().map(|e| (e.value.0.as_str(), e.value.1.as_str())).collect();
    assert_eq!(env, [("NODE_ENV", "production"), ("PORT", "8080")]);
    let check = config.healthcheck.map(|h| (h.value, h.line));
    assert_eq!(check, Some((Healthcheck::Check(Command::Shell("node healthcheck.js".into())), 23)));
    let cmd = config.cmd.map(|c| (c.value, c.line));
    assert_eq!(cmd, Some((Command::Exec(vec!["node".into(), "src/index.js".into()]), 33)));
    assert_eq!(config.workdir.map(|w| w.value), Some("/code".into()));
    assert!(notes.is_empty());
}

#[test]
fn shell_form_and_entrypoint_of_real_files() {
    let Some(corpus) = common::corpus_dir() else { return };
    let spark = parse(&corpus, "sparkjava-mysql/backend/Dockerfile", &[]);
    let config = spark.config(None, &mut Vec::new()).unwrap_or_default();
    assert_eq!(config.cmd.map(|c| c.value), Some(Command::Shell("java -jar /app.jar".into())));
    let flask = parse(&corpus, "flask/app/Dockerfile", &[]);
    let config = flask.config(Some("builder"), &mut Vec::new()).unwrap_or_default();
    assert_eq!(
        config.command().map(|c| c.value),
        Some(vec!["python3".to_string(), "app.py".into()])
    );
    let wasm = parse(&corpus, "wasmedge-mysql-nginx/backend/Dockerfile", &[]);
    let config = wasm.config(None, &mut Vec::new()).unwrap_or_default();
    assert_eq!(
        config.entrypoint.map(|e| (e.value, e.line)),
        Some((Command::Exec(vec!["order_demo_service.wasm".into()]), 28))
    );
}
