//! `nomad-spec drift` against the fake Nomad: each kind of drift (a count scaled by hand, an
//! image changed by hand, a stopped job, a job missing on the cluster, a job on the cluster
//! whose file is gone), in sync, a repository with no job files, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

use fakes::nomad::{FakeNomad, Scenario};
use nomad_spec::jobspec::parse::{parse_job, ParseOptions};
use serde_json::{json, Value};

/// A job file as `generate` writes one: its meta names the repository `shop`.
fn job_file(name: &str, image: &str, count: u32) -> String {
    format!(
        r#"# {name}: written by nomad-spec
job "{name}" {{
  datacenters = ["dc1"]
  type        = "service"

  meta {{
    nomad_spec_repository = "shop"
  }}

  group "app" {{
    count = {count}

    task "server" {{
      driver = "docker"

      config {{
        image = "{image}"
      }}

      resources {{
        cpu    = 100
        memory = 128
      }}
    }}
  }}
}}
"#
    )
}

/// A repository with `deploy/web.nomad.hcl` (3 × web:2) and `deploy/worker.nomad.hcl`.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("deploy")).unwrap();
    std::fs::write(dir.path().join("deploy/web.nomad.hcl"), job_file("web", "web:2", 3)).unwrap();
    std::fs::write(dir.path().join("deploy/worker.nomad.hcl"), job_file("worker", "worker:1", 1))
        .unwrap();
    std::fs::write(dir.path().join("README.md"), "# shop\n").unwrap();
    dir
}

/// The [`repository`] with both its jobs deployed on a fresh fake.
fn both_deployed() -> (FakeNomad, tempfile::TempDir) {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let repo = repository();
    deploy(&fake, repo.path(), "deploy/web.nomad.hcl");
    deploy(&fake, repo.path(), "deploy/worker.nomad.hcl");
    (fake, repo)
}

/// Registers a repository's job file on the fake, as a deploy of it would.
fn deploy(fake: &FakeNomad, repo: &Path, file: &str) {
    let text = std::fs::read_to_string(repo.join(file)).unwrap();
    let job = parse_job(&text, file, &ParseOptions::default()).unwrap();
    fake.register_job(job).unwrap();
    assert!(fake.settle());
}

fn drift(fake_url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nomad-spec"))
        .arg("drift")
        .args(args)
        .current_dir(dir)
        .env("NOMAD_ADDR", fake_url)
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_NAMESPACE")
        .env_remove("NOMAD_REGION")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn deployed_files_are_in_sync() {
    let (fake, repo) = both_deployed();
    let output = drift(&fake.url(), repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output), @r"
    web (deploy/web.nomad.hcl): in sync
    worker (deploy/worker.nomad.hcl): in sync

    2 in sync
    ");
}

#[test]
fn a_volume_specification_beside_the_jobs_is_skipped_with_a_note() {
    let (fake, repo) = both_deployed();
    // Named like a job file, as Nomad's own examples name theirs; Nomad's parser refuses it.
    let volume = "name      = \"data\"\ntype      = \"csi\"\nplugin_id = \"ebs\"\n";
    std::fs::write(repo.path().join("deploy/data-volume.nomad.hcl"), volume).unwrap();
    let output = drift(&fake.url(), repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).ends_with("\n2 in sync\n"), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(
            "note: deploy/data-volume.nomad.hcl skipped: it is a volume specification \
             (`nomad volume create` or `register`), not a job file"
        ),
        "{}",
        stderr(&output)
    );
    // Named on the command line, it is the error it is.
    let named = drift(&fake.url(), repo.path(), &["deploy/data-volume.nomad.hcl"]);
    assert_ne!(named.status.code(), Some(0), "{}", stdout(&named));
}

#[test]
fn every_kind_of_drift_is_reported_in_words() {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let repo = repository();
    deploy(&fake, repo.path(), "deploy/web.nomad.hcl");
    // Someone scales web down and runs an older image by hand.
    fake.change_job_by_hand("web", |job| {
        job["TaskGroups"][0]["Count"] = json!(1);
        job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = json!("web:1");
    })
    .unwrap();
    assert!(fake.settle());
    // A job whose file was deleted from the repository is still running; another
    // repository's job and a job that names no repository are none of this one's business.
    let old = |id: &str, meta: Value| {
        json!({"ID": id, "Name": id, "Type": "service", "Datacenters": ["dc1"], "Meta": meta,
            "TaskGroups": [{"Name": "app", "Count": 1, "Tasks": [{"Name": "server",
                "Driver": "docker", "Config": {"image": "old:1"},
                "Resources": {"CPU": 100, "MemoryMB": 64}}]}]})
    };
    fake.register_job(old("old-api", json!({"nomad_spec_repository": "shop"}))).unwrap();
    fake.register_job(old("billing", json!({"nomad_spec_repository": "billing"}))).unwrap();
    fake.register_job(old("by-hand", Value::Null)).unwrap();
    assert!(fake.settle());

    let output = drift(&fake.url(), repo.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    insta::assert_snapshot!(stdout(&output), @r"
    web (deploy/web.nomad.hcl): differs from the cluster
      - group app: count 3 → 1 on the cluster
      - task app/server: image web:2 → web:1 on the cluster
    worker (deploy/worker.nomad.hcl): missing on the cluster
    old-api: on the cluster, no job file
      - its meta nomad_spec_repository names shop

    1 differs, 1 missing on the cluster, 1 with no file
    ");

    let json_output = drift(&fake.url(), repo.path(), &["--format", "json"]);
    assert_eq!(json_output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&json_output.stdout).unwrap();
    let states: Vec<(&str, &str)> = report["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| (job["job"].as_str().unwrap(), job["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("web", "differs"), ("worker", "missing"), ("old-api", "no_file")]);
    assert_eq!(report["repositories"], json!(["shop"]));

    let markdown = stdout(&drift(&fake.url(), repo.path(), &["--format", "markdown"]));
    assert!(markdown.starts_with("### Nomad drift: drift\n"), "{markdown}");
    assert!(
        markdown.contains("old\\-api</code> | none | on the cluster, no job file |"),
        "{markdown}"
    );
    assert!(markdown.contains("- group app: count 3 → 1 on the cluster"), "{markdown}");
}

#[test]
fn a_job_stopped_by_hand_is_drift() {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let repo = repository();
    deploy(&fake, repo.path(), "deploy/web.nomad.hcl");
    fake.change_job_by_hand("web", |job| job["Stop"] = json!(true)).unwrap();
    assert!(fake.settle());
    let output = drift(&fake.url(), repo.path(), &["deploy/web.nomad.hcl"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("  - stopped on the cluster\n"), "{}", stdout(&output));
}

#[test]
fn a_stopped_job_with_no_file_is_not_reported() {
    let (fake, repo) = both_deployed();
    fake.change_job_by_hand("worker", |job| job["Stop"] = json!(true)).unwrap();
    assert!(fake.settle());
    std::fs::remove_file(repo.path().join("deploy/worker.nomad.hcl")).unwrap();
    let output = drift(&fake.url(), repo.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn a_named_repository_finds_jobs_the_files_do_not_name() {
    let (fake, repo) = both_deployed();
    let legacy = json!({"ID": "legacy", "Type": "batch", "Datacenters": ["dc1"],
        "Meta": {"nomad_spec_repository": "shop-legacy"},
        "TaskGroups": [{"Name": "run", "Count": 1, "Tasks": [{"Name": "run", "Driver": "docker",
            "Config": {"image": "legacy:1"}, "Resources": {"CPU": 100, "MemoryMB": 64}}]}]});
    fake.register_job(legacy).unwrap();
    assert!(fake.settle());
    assert_eq!(drift(&fake.url(), repo.path(), &[]).status.code(), Some(0));
    let output = drift(&fake.url(), repo.path(), &["--repository", "shop-legacy"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("legacy: on the cluster, no job file\n"));
}

#[test]
fn a_repository_with_no_job_files_asks_nothing_of_nomad() {
    let fake = FakeNomad::start(Scenario::default().with_manual_clock()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.tf"), "# not a job\n").unwrap();
    let output = drift(&fake.url(), dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert!(stderr(&output).contains("no job files"), "{}", stderr(&output));
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[test]
fn a_missing_path_is_a_usage_error_and_no_nomad_an_error() {
    let repo = repository();
    let output = drift("http://127.0.0.1:1", repo.path(), &["nowhere"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read nowhere"), "{}", stderr(&output));
    let bad_format = drift("http://127.0.0.1:1", repo.path(), &["--format", "yaml"]);
    assert_eq!(bad_format.status.code(), Some(2));

    // Nothing listens there: Nomad cannot be reached.
    let output = drift(&fakes::faults::refused_url(), repo.path(), &[]);
    assert_eq!(output.status.code(), Some(255), "{}", stderr(&output));
    assert!(stderr(&output).starts_with("error: "), "{}", stderr(&output));
}
