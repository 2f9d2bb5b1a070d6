//! Would the generated jobs really run the 24 sample apps of the shared corpus (issue 12)? Each
//! app file of `datasets/apps` says what a right job for its app contains; the whole app is
//! generated as `nomad-spec eval` does it and every expectation must be met, or explained by a
//! decision of the generator. The apps are read in place from the corpus (`tests/common`).
//!
//! The first test keeps the app files honest: they read, they cover every app, they name
//! services the analysis finds, and every citation points at lines that exist. The last ones
//! run `nomad-spec eval` on the dataset as a person would.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use nomad_spec::analyze::{self, Options};
use nomad_spec::cli::deployability::{Check, Outcome, Report};
use nomad_spec::cli::whole_app::{app_files, citation_problems, evaluate_app, read_app_file};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nomad-spec");

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/apps")
}

fn files() -> Vec<PathBuf> {
    app_files(&dataset()).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The apps of the corpus: every folder of `apps/awesome-compose`, and the other folders of
/// `apps/`.
fn corpus_apps(corpus: &Path) -> BTreeSet<String> {
    let apps = corpus.join("apps");
    let mut found = BTreeSet::new();
    for dir in common::subfolders(&apps) {
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name == "awesome-compose" {
            for app in common::subfolders(&dir) {
                let app = app.file_name().map(|n| n.to_string_lossy().into_owned());
                found.insert(format!("awesome-compose/{}", app.unwrap_or_default()));
            }
        } else {
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_app_file_reads_covers_its_app_and_cites_real_lines() {
    let Some(corpus) = common::corpus_dir() else { return };
    let mut covered = BTreeSet::new();
    let mut problems = Vec::new();
    for path in files() {
        let file = read_app_file(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let name = path.display().to_string();
        let root = corpus.join("apps").join(&file.app);
        assert!(root.is_dir(), "{name}: no app {}", root.display());
        assert!(covered.insert(file.app.clone()), "{name}: a second file for {}", file.app);
        problems
            .extend(citation_problems(&root, &file).into_iter().map(|p| format!("{name}: {p}")));
        let options = Options { root_name: Some(root_name(&root)), ..Options::default() };
        let services: BTreeSet<String> =
            analyze::analyze(&root, &options).services.into_iter().map(|s| s.name).collect();
        for expectation in &file.expectations {
            let mut named = vec![expectation.service.as_str()];
            match &expectation.check {
                // A service that must not be deployed may well be unknown to the analysis.
                Check::NotDeployed => named.clear(),
                Check::Reaches(reach) => named.push(&reach.service),
                Check::SameSecret(same) => named.push(&same.peer),
                Check::File(file) => named.extend(file.lookup_of.as_deref()),
                Check::Env(env) => named.extend(env.lookup_of.as_deref()),
                _ => {}
            }
            for service in named {
                if !services.contains(service) {
                    problems.push(format!(
                        "{name}:{}: `{service}` is not a service of the app ({services:?})",
                        expectation.line
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(covered, corpus_apps(&corpus), "one app file per app of the corpus");
}

fn root_name(root: &Path) -> String {
    root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[test]
fn every_app_deploys_as_its_expectations_say() {
    let Some(corpus) = common::corpus_dir() else { return };
    let apps: Vec<_> = files()
        .iter()
        .map(|path| evaluate_app(path, &corpus).unwrap_or_else(|e| panic!("{e:#}")))
        .collect();
    let report = Report::new(apps);
    println!("{}", report.text());
    let unmet: Vec<String> = report
        .apps
        .iter()
        .flat_map(|app| {
            app.judgements.iter().filter_map(move |j| match &j.outcome {
                Outcome::Missing(found) => Some(format!(
                    "{} {} {} ({}:{}, at {}): {found}",
                    app.app, j.service, j.check, app.file, j.line, j.at
                )),
                _ => None,
            })
        })
        .collect();
    assert!(
        unmet.is_empty(),
        "{} of {} expectations are neither met nor explained:\n{}",
        unmet.len(),
        report.score.total,
        unmet.join("\n")
    );
}

/// Runs `nomad-spec eval ARGS` in `dir` with `NOMAD_SPEC_CORPUS` set to `corpus`.
fn eval(dir: &Path, args: &[&str], corpus: &Path) -> (i32, String, String) {
    let output = Command::new(BIN)
        .current_dir(dir)
        .arg("eval")
        .args(args)
        .env("NOMAD_SPEC_CORPUS", corpus)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn eval_scores_each_app_next_to_the_accuracy_figures() {
    let Some(corpus) = common::corpus_dir() else { return };
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = ["--dataset", "datasets/apps", "--format", "json"];
    let (code, stdout, stderr) = eval(repository, &args, &corpus);
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let deployability = &report["deployability"];
    let apps = deployability["apps"].as_array().cloned().unwrap_or_default();
    assert_eq!(apps.len(), files().len(), "{deployability}");
    let mut total = 0;
    for app in &apps {
        let count = |key: &str| app[key].as_u64().unwrap_or(u64::MAX);
        let judged = app["judgements"].as_array().map_or(0, Vec::len) as u64;
        assert_eq!(count("met") + count("explained") + count("missing"), count("total"), "{app}");
        assert_eq!(judged, count("total"), "{app}");
        assert!(count("jobs") >= 1 && count("valid_jobs") <= count("jobs"), "{app}");
        total += count("total");
    }
    assert_eq!(deployability["total"].as_u64(), Some(total));
    assert_eq!(report["jobs"], 0, "no case folder: the accuracy figures are empty, not invented");

    let (code, text, stderr) = eval(repository, &["--dataset", "datasets/apps"], &corpus);
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("\ndeployability (met + explained of total)\n"), "{text}");
    assert!(text.contains("  awesome-compose/nginx-golang-mysql "), "{text}");
    assert!(text.contains("\ndeployability "), "{text}");
}

#[test]
fn eval_without_the_corpus_is_a_clear_error() {
    let Some(corpus) = common::corpus_dir() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dataset = dir.path().join("datasets/apps");
    std::fs::create_dir_all(&dataset).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(dataset_file("flask.toml"), dataset.join("flask.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let nowhere = dir.path().join("no-corpus");
    let (code, _, stderr) = eval(dir.path(), &["--dataset", "datasets/apps"], &nowhere);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the corpus with the apps was not found"), "{stderr}");
    assert!(stderr.contains("set NOMAD_SPEC_CORPUS or --corpus"), "{stderr}");
    let explicit = ["--dataset", "datasets/apps", "--corpus", "no-corpus"];
    let (code, _, stderr) = eval(dir.path(), &explicit, &corpus);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the corpus no-corpus has no apps folder"), "{stderr}");
    // With the corpus, the copied file is judged.
    let (code, stdout, stderr) = eval(dir.path(), &["--dataset", "datasets/apps"], &corpus);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("awesome-compose/flask "), "{stdout}");
    // A broken app file names itself and its line.
    std::fs::write(
        dataset.join("broken.toml"),
        "app = \"awesome-compose/flask\"\n[[expect]]\nservice = 1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (code, _, stderr) = eval(dir.path(), &["--dataset", "datasets/apps"], &corpus);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("datasets/apps/broken.toml:3:"), "{stderr}");
}

fn dataset_file(name: &str) -> PathBuf {
    dataset().join(name)
}

/// The jobs an operator would write by hand for nginx-golang-mysql: the nginx config rendered
/// with the backend's address, the password file from one Vault key at both ends, the data on
/// a volume. It shows the app file asks for nothing a job cannot do.
const RIGHT_PROXY_AND_BACKEND: &str = r#"
job "nginx-golang-mysql" {
  group "proxy" {
    network {
      port "http" {
        to = 80
      }
    }
    service {
      name     = "nginx-golang-mysql-proxy"
      port     = "http"
      provider = "nomad"
      check {
        type     = "http"
        path     = "/"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "proxy" {
      driver = "docker"
      config {
        image = "nginx:1.27"
        ports = ["http"]
        mount {
          type     = "bind"
          source   = "local/default.conf"
          target   = "/etc/nginx/conf.d/default.conf"
          readonly = true
        }
      }
      template {
        destination = "local/default.conf"
        data        = <<EOT
server {
    listen       80;
    location / {
        proxy_pass          http://{{ range nomadService "nginx-golang-mysql-backend" }}{{ .Address }}:{{ .Port }}{{ end }};
    }
}
EOT
      }
    }
  }
  group "backend" {
    network {
      port "http" {
        to = 8000
      }
    }
    service {
      name     = "nginx-golang-mysql-backend"
      port     = "http"
      provider = "nomad"
      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }
    task "backend" {
      driver = "docker"
      config {
        image = "ghcr.io/acme/nginx-golang-mysql-backend:1.0"
        ports = ["http"]
        mount {
          type   = "bind"
          source = "secrets/db-password"
          target = "/run/secrets/db-password"
        }
      }
      vault {}
      template {
        destination = "secrets/db-password"
        data        = "{{ with secret \"kv/data/nginx-golang-mysql\" }}{{ .Data.data.db_password }}{{ end }}"
      }
    }
  }
}
"#;

const RIGHT_DB: &str = r#"
job "nginx-golang-mysql-db" {
  group "db" {
    network {
      port "db" {
        to = 3306
      }
    }
    service {
      name     = "nginx-golang-mysql-db"
      port     = "db"
      provider = "nomad"
      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }
    volume "data" {
      type   = "host"
      source = "nginx-golang-mysql-db"
    }
    task "db" {
      driver = "docker"
      config {
        image = "mariadb:10-focal"
        args  = ["--default-authentication-plugin=mysql_native_password"]
        ports = ["db"]
        volumes = ["secrets/db-password:/run/secrets/db-password"]
      }
      volume_mount {
        volume      = "data"
        destination = "/var/lib/mysql"
      }
      env {
        MYSQL_DATABASE           = "example"
        MYSQL_ROOT_PASSWORD_FILE = "/run/secrets/db-password"
      }
      vault {}
      template {
        destination = "secrets/db-password"
        data        = "{{ with secret \"kv/data/nginx-golang-mysql\" }}{{ .Data.data.db_password }}{{ end }}"
      }
    }
  }
}
"#;

#[test]
fn a_right_job_meets_every_expectation_of_its_app() {
    use nomad_spec::cli::deployability::{judge, WholeApp};
    use nomad_spec::jobspec::build::Decision;
    use nomad_spec::jobspec::parse::{parse_job, ParseOptions};

    let file =
        read_app_file(&dataset_file("nginx-golang-mysql.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let jobs = [RIGHT_PROXY_AND_BACKEND, RIGHT_DB]
        .iter()
        .map(|text| {
            parse_job(text, "right.nomad.hcl", &ParseOptions::default())
                .unwrap_or_else(|d| panic!("{d:?}"))
        })
        .collect();
    let decisions = vec![Decision {
        subject: "backend".into(),
        choice: "db:3306 cannot be reached".into(),
        reason: "backend/main.go:23 dials tcp(db:3306) and reads no variable to change it".into(),
    }];
    let app = WholeApp { jobs, decisions, questions: Vec::new() };
    let judgements = judge(&file, &app);
    let not_met: Vec<String> = judgements
        .iter()
        .filter(|j| j.outcome != Outcome::Met)
        .map(|j| format!("{} {}: {:?}", j.service, j.check, j.outcome))
        .collect();
    assert_eq!(not_met.len(), 1, "only the hard-coded host is explained: {not_met:#?}");
    assert!(not_met[0].starts_with("backend reaches db: Explained("), "{not_met:?}");
}
